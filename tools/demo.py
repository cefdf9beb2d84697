"""The demo: LossMix against no mixing on the toy data, one seed, side by
side, in the regime where the 3-seed study separates them.

    python tools/demo.py [--seed 0] [--iters 1200] [--num-train 64]
        [--jobs 2] [--threads 1] [--work-root work_dirs/demo]

Trains the toy RetinaNet twice on the same generated data and seed, once
without mixing (``configs/toy/retinanet_r18_fpn_1xb4-800it_toy.py``) and
once with LossMix pair mixing (``..._lossmix_1xb4-800it_toy.py``), each for
``--iters`` iterations on ``--num-train`` images, and evaluates both with
``CocoMetric`` on the held-out images (``tools/quality_study.py`` does the
runs, both at once with one OMP thread each, as the study ran them: a
training's trajectory depends on the thread count; finished runs are kept
in ``<work-root>/results.json``). Prints a
two-row table with the difference beside the committed 3-seed study
(``docs/quality_study_retinanet_n64_it1200.json``, the same settings) and
writes ``<work-root>/demo.png``: this run's points with the study's other
seeds.
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import plot_results  # noqa: E402
import quality_study  # noqa: E402

DETECTOR = 'retinanet'
VARIANTS = ('nomix', 'lossmix')
NAMES = {'nomix': 'no mixing', 'lossmix': 'LossMix (pair)'}
STUDY = osp.join(ROOT, 'docs', 'quality_study_retinanet_n64_it1200.json')
MAP = 'coco/bbox_mAP'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--iters', type=int, default=1200)
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument('--jobs', type=int, default=2, help='runs at a time')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='OMP threads per run (the study ran at 1; another count '
        'trains another trajectory)')
    parser.add_argument('--work-root', default='work_dirs/demo')
    parser.add_argument(
        '--data-root', help='default: data/toy_n{num_train}, generated')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value config overrides for both runs')
    args = parser.parse_args(argv)
    if min(args.iters, args.num_train, args.jobs, args.threads) < 1:
        parser.error('--iters, --num-train, --jobs and --threads must be >= '
                     f'1, got {args.iters}, {args.num_train}, {args.jobs}, '
                     f'{args.threads}')
    return args


def study_reference(args):
    """The committed study's runs when they have the demo's settings.

    Returns:
        dict: ``{'<variant>/seed<S>': metrics}``, empty when the demo's
        iterations or images differ from the study's (1200, 64).
    """
    if (args.iters, args.num_train) != (1200, 64):
        return {}
    with open(STUDY) as f:
        study = json.load(f)
    return {k: v for k, v in study.items() if k.split('/')[0] in VARIANTS}


def table(results, seed, reference):
    """The demo's lines: two rows, the difference, the study beside.

    Args:
        results (dict): the demo's runs, ``{'<variant>/seed<S>': ...}``.
        seed (int): the demo's seed.
        reference (dict): the study's runs (may be empty).

    Returns:
        list[str]: the lines to print.
    """
    runs = {v: results[f'{v}/seed{seed}'] for v in VARIANTS}
    lines = [
        '| variant | bbox mAP | AP50 | train s |', '|---|---|---|---|'
    ] + [
        f'| {NAMES[v]} | {r[MAP]:.3f} | {r["coco/bbox_mAP_50"]:.3f} | '
        f'{r["train_s"]:.0f} |' for v, r in runs.items()
    ]
    diff = runs['lossmix'][MAP] - runs['nomix'][MAP]
    lines.append(f'LossMix - no mixing: {diff:+.3f} bbox mAP (seed {seed})')
    study = plot_results.parse_runs(reference)
    seeds = sorted(set(study.get('nomix', {})) & set(study.get('lossmix', {})))
    if seeds:
        diffs = [
            study['lossmix'][s][MAP] - study['nomix'][s][MAP] for s in seeds
        ]
        mean, std = plot_results.mean_std(diffs)
        per_seed = ' / '.join(f'{d:+.3f}' for d in diffs)
        lines.append(f'the study (seeds {", ".join(map(str, seeds))}, '
                     f'{osp.relpath(STUDY, ROOT)}): LossMix - no mixing '
                     f'{per_seed}, mean {mean:+.3f} +- {std:.3f}')
    return lines


def main(argv=None):
    args = parse_args(argv)
    quality_study.main([
        '--detector', DETECTOR, '--variants', *VARIANTS, '--seeds',
        str(args.seed), '--iters',
        str(args.iters), '--num-train',
        str(args.num_train), '--jobs',
        str(args.jobs), '--threads',
        str(args.threads), '--work-root', args.work_root
    ] + (['--data-root', args.data_root] if args.data_root else []) + (
        ['--cfg-options', *args.cfg_options] if args.cfg_options else []))
    with open(osp.join(args.work_root, 'results.json')) as f:
        results = json.load(f)
    reference = study_reference(args)
    lines = table(results, args.seed, reference)
    # this run's seed, the study's other seeds beside it
    points = dict(
        reference, **{
            f'{v}/seed{args.seed}': results[f'{v}/seed{args.seed}']
            for v in VARIANTS
        })
    figure = osp.join(args.work_root, 'demo.png')
    plot_results.plot_quality_study(
        points, figure, f'toy RetinaNet, {args.num_train} images, '
        f'{args.iters} iterations\nseed {args.seed}: this run; other seeds: '
        'the study', list(VARIANTS))
    print('\n=== LossMix demo (toy RetinaNet, same data and seed)')
    print('\n'.join(lines))
    print(f'figure: {figure}')
    return lines


if __name__ == '__main__':
    main()
