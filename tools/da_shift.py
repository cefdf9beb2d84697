"""How far the toy target domains are from the source, for one checkpoint.

    python tools/da_shift.py CHECKPOINT [--config CONFIG]
        [--styles source clipart clipart-hard watercolor] [--seed 1]
        [--data-root data] [--out shift.json]

Evaluates ``CHECKPOINT`` (a detector trained on the source, e.g. the
source-only toy config's) with ``CocoMetric`` on the held-out images of each
style: ``source`` is ``data/toy`` (the source domain itself), any other style
``data/toy_{style}``, generated with ``--seed`` if missing
(``tools/generate_toy_data.py``; an existing one is used as it is). Prints
bbox mAP and AP50 per style and each target's AP50 as a share of the
source's; ``--out`` writes them as JSON.
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import generate_toy_data  # noqa: E402

DEFAULT_CONFIG = osp.join(
    ROOT, 'configs', 'toy',
    'faster-rcnn_r18_fpn_source-only_1xb4-1200it_toy2clipart.py')
DEFAULT_STYLES = ['source', 'clipart', 'clipart-hard', 'watercolor']


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='a source-trained checkpoint')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--styles',
        nargs='+',
        default=DEFAULT_STYLES,
        choices=sorted(generate_toy_data.STYLES),
        help='domains to evaluate on (source: data/toy)')
    parser.add_argument(
        '--seed', type=int, default=1, help='generator seed of the targets')
    parser.add_argument(
        '--data-root',
        default=osp.join(ROOT, 'data'),
        help='where data/toy and data/toy_{style} are')
    parser.add_argument(
        '--work-dir', default=osp.join(ROOT, 'work_dirs', 'da_shift_eval'))
    parser.add_argument('--out', help='write the results here (JSON)')
    return parser.parse_args(argv)


def style_root(data_root: str, style: str, seed: int) -> str:
    """The held-out data of ``style``, generated if missing."""
    if style == 'source':
        return osp.join(data_root, 'toy')
    root = osp.join(data_root, f'toy_{style}')
    if not osp.isfile(osp.join(root, 'annotations', 'val.json')):
        generate_toy_data.generate(root, seed=seed, style=style)
    return root


def evaluate(config: str, checkpoint: str, root: str, work_dir: str) -> dict:
    """bbox mAP and AP50 of ``checkpoint`` on ``root``'s val split."""
    from lossmix_mm.engine.launch import build_runner, load_cfg
    root = root.rstrip('/') + '/'
    options = {
        'test_dataloader.dataset.data_root': root,
        'test_evaluator.ann_file': root + 'annotations/val.json',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
    }
    cfg = load_cfg(config, options, work_dir, 'none')
    cfg.load_from = checkpoint
    metrics = build_runner(cfg).test()
    return {k: metrics[k] for k in ('coco/bbox_mAP', 'coco/bbox_mAP_50')}


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    for style in args.styles:
        root = style_root(args.data_root, style, args.seed)
        results[style] = evaluate(args.config, args.checkpoint, root,
                                  osp.join(args.work_dir, style))
    source = results.get('source', {}).get('coco/bbox_mAP_50')
    lines = [
        '| style | bbox mAP | AP50 | AP50 / source AP50 |', '|---|---|---|---|'
    ]
    for style, metrics in results.items():
        share = metrics['coco/bbox_mAP_50'] / source if source else None
        metrics['ap50_share_of_source'] = share
        lines.append(f'| {style} | {metrics["coco/bbox_mAP"]:.3f} | '
                     f'{metrics["coco/bbox_mAP_50"]:.3f} | ' +
                     ('-' if share is None else f'{share:.2f}') + ' |')
    print('\n'.join(lines))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    checkpoint=args.checkpoint,
                    config=args.config,
                    seed=args.seed,
                    results=results),
                f,
                indent=1)
    return results


if __name__ == '__main__':
    main()
