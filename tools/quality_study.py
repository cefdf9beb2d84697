"""Quality study on the toy data: mixing variants x seeds, bbox mAP table.

    python tools/quality_study.py [--detector faster-rcnn]
        [--variants nomix lossmix lossmix-inbatch union noise]
        [--seeds 0 1 2] [--iters 1200] [--num-train 64] [--jobs 2 --threads 1]
        [--cfg-options k=v ...] [--out table.md] [--plot figure.png]
    python tools/quality_study.py --plot-only RESULTS.json [--plot figure.png]
        [--variants ...] [--seeds ...] [--title TITLE]

Each run trains a toy config (``configs/toy/{detector}_r18_fpn_{variant}_...``;
``--detector`` is ``faster-rcnn``, ``retinanet`` or ``mask-rcnn``)
for ``--iters`` iterations on a generated training set of ``--num-train``
images (``data/toy_n{N}``; validation: the generator's held-out images) with
``randomness.seed`` = the seed, then evaluates the last checkpoint with
``CocoMetric``. Finished runs are kept (``results.json`` in the work root),
so an interrupted study continues where it stopped. The table gives mean
+- sample standard deviation over the seeds.

A figure is written beside the table (``table.png`` for ``--out
table.md``; without ``--out``, beside the results json): per variant the
per-seed points of bbox mAP, AP50 (and segm mAP where recorded) and their
mean +- std (``tools/plot_results.py``). ``--plot-only RESULTS.json`` redraws
it from finished runs without training (default: ``RESULTS.png``).
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import generate_toy_data  # noqa: E402
import plot_results  # noqa: E402

METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75')
# recorded too where the config evaluates masks (Mask R-CNN)
SEGM_METRICS = ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/segm_mAP_75')
DETECTORS = ('faster-rcnn', 'retinanet', 'mask-rcnn')
DEFAULT_VARIANTS = ['nomix', 'lossmix', 'lossmix-inbatch', 'union', 'noise']
DEFAULT_SEEDS = [0, 1, 2]
DETECTOR_NAMES = {
    'faster-rcnn': 'Faster R-CNN',
    'retinanet': 'RetinaNet',
    'mask-rcnn': 'Mask R-CNN'
}


def toy_config(variant, detector='faster-rcnn'):
    if detector not in DETECTORS:
        raise ValueError(f'detector must be one of {DETECTORS}, got '
                         f'{detector!r}')
    pattern = f'{detector}_r18_fpn_1xb4-*_toy.py' if variant == 'nomix' \
        else f'{detector}_r18_fpn_{variant}_1xb4-*_toy.py'
    found = glob.glob(osp.join(ROOT, 'configs', 'toy', pattern))
    if len(found) != 1:
        raise ValueError(f'no single toy config for variant {variant!r}: '
                         f'{found}')
    return found[0]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--detector', default='faster-rcnn', choices=DETECTORS)
    parser.add_argument(
        '--variants',
        nargs='+',
        help=f'default: {" ".join(DEFAULT_VARIANTS)} (with --plot-only: '
        'every variant in the json)')
    parser.add_argument(
        '--seeds',
        nargs='+',
        type=int,
        help='default: 0 1 2 (with --plot-only: every seed in the json)')
    parser.add_argument('--iters', type=int, default=1200)
    parser.add_argument('--num-train', type=int, default=64)
    parser.add_argument(
        '--work-root',
        help='default: work_dirs/quality_study/n{num_train}_it{iters}')
    parser.add_argument(
        '--data-root',
        help='where the toy data are generated (or kept when identical); '
        'default: data/toy_n{num_train}')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs at a time; with more than one each run gets '
        'cpu_count / jobs threads')
    parser.add_argument(
        '--threads',
        type=int,
        help='OMP threads per run (default: cpu_count / jobs)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra key=value config overrides for every run (e.g. '
        'model.roi_head.bbox_head.fc_out_channels=1024)')
    parser.add_argument('--out', help='write the markdown table here')
    parser.add_argument(
        '--plot',
        help='write the figure here (default: beside --out, else beside '
        'the results json, with the extension .png)')
    parser.add_argument(
        '--plot-only',
        metavar='RESULTS_JSON',
        help='only draw the figure of the runs in this json (no training)')
    parser.add_argument('--title', help='title of the figure')
    parser.add_argument(
        '--results',
        help='json of finished runs, read and extended (default: '
        '<work-root>/results.json)')
    args = parser.parse_args(argv)
    if not args.plot_only:
        args.variants = args.variants or list(DEFAULT_VARIANTS)
        args.seeds = args.seeds if args.seeds is not None else \
            list(DEFAULT_SEEDS)
    return args


def run_one(args, data_root, variant, seed, results):
    key = f'{variant}/seed{seed}'
    if key in results:
        return
    config = toy_config(variant, args.detector)
    work_dir = osp.join(args.work_root, variant, f'seed{seed}')
    root = data_root + '/'
    train_root, schedule = PREPARED[variant]
    options = [
        f'{train_root}={root}', f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/val.json',
        f'test_evaluator.ann_file={root}annotations/val.json',
        f'randomness.seed={seed}', f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}'
    ]
    env = dict(os.environ)
    if args.threads:
        env['OMP_NUM_THREADS'] = str(args.threads)
    elif args.jobs > 1:
        env['OMP_NUM_THREADS'] = str(
            max(1, (os.cpu_count() or 1) // args.jobs))
    start = time.time()
    subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools/train.py'), config, '--work-dir', work_dir,
            '--cfg-options'
        ] + options + schedule + args.cfg_options,
        check=True,
        stdout=subprocess.DEVNULL,
        env=env)
    train_s = time.time() - start
    scalars = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    metrics = {}
    with open(scalars) as f:
        for line in f:
            record = json.loads(line)
            if METRICS[0] in record:
                metrics = {
                    k: record[k]
                    for k in METRICS + SEGM_METRICS if k in record
                }
    results[key] = dict(
        metrics,
        train_s=train_s,
        jobs=args.jobs,
        threads=int(env['OMP_NUM_THREADS'])
        if env.get('OMP_NUM_THREADS', '').isdigit() else None,
        cfg_options=args.cfg_options,
        config=osp.relpath(config, ROOT))
    segm = f' segm mAP {metrics[SEGM_METRICS[0]]:.3f}' \
        if SEGM_METRICS[0] in metrics else ''
    print(
        f'{key}: mAP {metrics[METRICS[0]]:.3f} '
        f'AP50 {metrics[METRICS[1]]:.3f}{segm} ({train_s:.0f} s)',
        flush=True)


# variant -> (key of the train data_root, lr-step options); filled in the
# main thread (config parsing is not thread-safe)
PREPARED = {}


def prepare(variant, iters, detector='faster-rcnn'):
    """Where the train data_root sits, and the lr steps at the same
    fractions of the run as the config's."""
    from mmengine.config import Config
    cfg = Config.fromfile(toy_config(variant, detector))
    wrapped = cfg.train_dataloader.dataset.type == 'MultiImageMixDataset'
    train_root = 'train_dataloader.dataset.dataset.data_root' if wrapped \
        else 'train_dataloader.dataset.data_root'
    options = []
    for i, sched in enumerate(cfg.param_scheduler):
        if sched.type == 'MultiStepLR':
            max_iters = cfg.train_cfg.max_iters
            steps = [round(m / max_iters * iters) for m in sched.milestones]
            options.append(f'param_scheduler.{i}.milestones=[' +
                           ','.join(map(str, steps)) + ']')
            options.append(f'param_scheduler.{i}.end={iters}')
    PREPARED[variant] = (train_root, options)


def table(args, results):
    detector = '' if args.detector == 'faster-rcnn' else \
        f' --detector {args.detector}'
    lines = [
        f'`python tools/quality_study.py{detector}'
        f' --variants {" ".join(args.variants)}'
        f' --seeds {" ".join(map(str, args.seeds))} --iters {args.iters} '
        f'--num-train {args.num_train} --jobs {args.jobs}' +
        (f' --threads {args.threads}' if args.threads else '') +
        (' --cfg-options ' +
         ' '.join(args.cfg_options) if args.cfg_options else '') + '`',
        '',
    ]
    segm = any(SEGM_METRICS[0] in r for r in results.values())
    metrics = METRICS + (SEGM_METRICS if segm else ())
    names = ['bbox mAP', 'AP50', 'AP75'
             ] + (['segm mAP', 'segm AP50', 'segm AP75'] if segm else [])
    lines += [
        '| variant | ' + ' | '.join(names) + ' | seeds | train s / run |',
        '|' + '---|' * (len(names) + 3)
    ]
    for variant in args.variants:
        runs = [
            results[f'{variant}/seed{s}'] for s in args.seeds
            if f'{variant}/seed{s}' in results
        ]
        if not runs:
            continue
        cells = []
        for metric in metrics:
            values = [r.get(metric, float('nan')) for r in runs]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f'{statistics.mean(values):.3f} +- {std:.3f}')
        per_seed = ', '.join(f'{r[METRICS[0]]:.3f}' for r in runs)
        train_s = statistics.mean(r['train_s'] for r in runs)
        lines.append(f'| {variant} | {" | ".join(cells)} | {per_seed} | '
                     f'{train_s:.0f} |')
    return '\n'.join(lines)


def detector_of(results):
    """The detector ('faster-rcnn', ...) of the runs' configs, or None."""
    configs = [
        osp.basename(r.get('config', '')) for r in results.values()
        if isinstance(r, dict)
    ]
    return next(
        (d for d in DETECTORS if any(c.startswith(d + '_') for c in configs)),
        None)


def plot_only(args):
    """Redraw the figure of a finished study from its results json.

    Returns:
        str: where the figure went.
    """
    with open(args.plot_only) as f:
        results = json.load(f)
    out = args.plot or osp.splitext(args.plot_only)[0] + '.png'
    detector = DETECTOR_NAMES.get(detector_of(results), 'detector')
    title = args.title or f'{detector} toy study ' \
        f'({osp.splitext(osp.basename(args.plot_only))[0]})'
    plot_results.plot_quality_study(results, out, title, args.variants,
                                    args.seeds)
    print(f'figure: {out}')
    return out


def main(argv=None):
    args = parse_args(argv)
    if args.plot_only:
        return plot_only(args)
    if args.work_root is None:
        detector = '' if args.detector == 'faster-rcnn' else \
            f'{args.detector}_'
        args.work_root = osp.join(
            ROOT, 'work_dirs', 'quality_study',
            f'{detector}n{args.num_train}_it'
            f'{args.iters}')
    for variant in args.variants:
        prepare(variant, args.iters,
                args.detector)  # fails early on a bad name
    data_root = args.data_root or osp.join(ROOT, 'data',
                                           f'toy_n{args.num_train}')
    generate_toy_data.generate(data_root, num_train=args.num_train)
    os.makedirs(args.work_root, exist_ok=True)
    results_path = args.results or osp.join(args.work_root, 'results.json')
    results = {}
    if osp.isfile(results_path):
        with open(results_path) as f:
            results = json.load(f)
    lock = threading.Lock()
    figure_path = args.plot or osp.splitext(args.out or results_path)[0] + \
        '.png'
    title = args.title or f'{DETECTOR_NAMES[args.detector]} toy study, ' \
        f'{args.num_train} training images, {args.iters} iterations'

    def run_and_save(variant, seed):
        run_one(args, data_root, variant, seed, results)
        with lock:
            with open(results_path, 'w') as f:
                json.dump(results, f, indent=1)
            if args.out:
                with open(args.out, 'w') as f:
                    f.write(table(args, results) + '\n')
            plot_results.plot_quality_study(results, figure_path, title,
                                            args.variants, args.seeds)

    # all variants of a seed before the next seed
    runs = [(v, s) for s in args.seeds for v in args.variants]
    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(run_and_save, *run) for run in runs]:
            future.result()
    if any(f'{v}/seed{s}' in results for v in args.variants
           for s in args.seeds):
        plot_results.plot_quality_study(results, figure_path, title,
                                        args.variants, args.seeds)
        print(f'figure: {figure_path}')
    print(table(args, results))


if __name__ == '__main__':
    main()
