"""Cost of the region LossMix transforms, side by side with mmdet's.

    python tools/benchmark_region.py [--scales 192 640] [--calls 300]
        [--warmup 30] [--samples 200] [--iters 20] [--iter-warmup 5]
        [--out docs/benchmark_region.md]

1. Per sample, each LossMix transform against its mmdet counterpart
   (``LossMixMosaic`` / ``Mosaic``, ``LossMixCachedMosaic`` /
   ``CachedMosaic``, ``LossMixMixUp`` / ``MixUp``, ``LossMixCachedMixUp`` /
   ``CachedMixUp``, ``PackLossMixInputs`` / ``PackDetInputs``) on the same
   synthetic inputs: random images of the scale's size (toy-like 192 px:
   192-256 px a side; 640: 480-640 px), 10-30 boxes each, loaded as
   ``LossMixBoxes`` for ours and ``HorizontalBoxes`` for mmdet's.
   ``LossMixCutMix`` has no mmdet counterpart: its ``mode='lossmix'`` is
   timed against its own ``mode='union'`` (boxes as they came). The two
   calls of a round see copies of the same input and the same random state
   (``np.random`` and ``random`` reseeded before each); the order of the
   two alternates from round to round; medians of wall and CPU time over
   ``--calls`` rounds after ``--warmup``, with one torch thread (as in a
   ``DataLoader`` worker). Goal: at most 1.05.
2. The whole training pipeline per sample (one ``dataset[i]``, image
   loading included) of the toy RTMDet configs
   ``configs/toy/rtmdet_tiny_{lossmix,union}-mosaic_1xb4-800it_toy.py``:
   LossMix's against mmdet's own, interleaved, reseeded alike, one torch
   thread. No goal of its own: the per-transform goal is shown.
3. One training iteration (data loading in the main process, forward,
   backward, step) of the same two configs, interleaved round by round
   (``tools/benchmark.py``'s ``Trainer``), the random state reseeded alike
   before each step. Goal: at most 1.03. ``--iters 0`` skips it.

``--out X.md`` writes the tables (keeping the hand-written reading of an
existing ``X.md`` from its first ``## `` heading on) and ``X.png``.
"""
import argparse
import copy
import os
import os.path as osp
import random as py_random
import statistics
import sys
import time

import numpy as np
import torch
from mmdet.registry import DATASETS, TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.registry import init_default_scope

import lossmix_mm  # noqa: F401
from lossmix_mm.structures import LossMixBoxes

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import benchmark  # noqa: E402
import generate_toy_data  # noqa: E402

TRANSFORM_GOAL = 1.05
ITERATION_GOAL = 1.03
RTMDET = {
    'lossmix-mosaic': 'toy/rtmdet_tiny_lossmix-mosaic_1xb4-800it_toy.py',
    'union-mosaic': 'toy/rtmdet_tiny_union-mosaic_1xb4-800it_toy.py',
}
NUM_BOXES = (10, 30)  # boxes per image, both ends included
POOL = 8  # distinct synthetic samples cycled through
CLASSES = 3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--scales',
        type=int,
        nargs='+',
        default=[192, 640],
        help='transform scales (img_scale s x s; images s to 4/3 s a side '
        'for s < 640, 3/4 s to s from 640 on)')
    parser.add_argument(
        '--calls', type=int, default=300, help='measured calls per transform')
    parser.add_argument('--warmup', type=int, default=30)
    parser.add_argument(
        '--samples',
        type=int,
        default=200,
        help='measured samples of the whole pipelines (0: skip)')
    parser.add_argument(
        '--iters',
        type=int,
        default=20,
        help='measured RTMDet iterations (0: skip)')
    parser.add_argument('--iter-warmup', type=int, default=5)
    parser.add_argument(
        '--threads',
        type=int,
        help='torch CPU threads of the iterations (default: all cores)')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/toy'))
    parser.add_argument('--out', help='write the tables (.md) and figure')
    args = parser.parse_args(argv)
    counts = dict(
        calls=args.calls,
        warmup=args.warmup,
        samples=args.samples,
        iters=args.iters,
        iter_warmup=args.iter_warmup)
    bad = {k: v for k, v in counts.items() if v < (k == 'calls')}
    if bad or min(args.scales) < 16:
        parser.error('--calls must be >= 1, --warmup, --samples, --iters '
                     'and --iter-warmup >= 0 and --scales >= 16, got '
                     f'{counts} and {args.scales}')
    return args


def synthetic_sample(rng, scale, index):
    """One image's results as ``LoadAnnotations`` gives them (plain
    ``HorizontalBoxes``), of random pixels and 10-30 random boxes.

    Args:
        rng (np.random.Generator): the generator of the inputs.
        scale (int): the transforms' scale (see ``--scales``).
        index (int): the sample's id.

    Returns:
        dict: img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags and the
        meta keys the packers read.
    """
    low, high = (scale, scale * 4 // 3) if scale < 640 else \
        (scale * 3 // 4, scale)
    h, w = (int(v) for v in rng.integers(low, high + 1, size=2))
    num = int(rng.integers(NUM_BOXES[0], NUM_BOXES[1] + 1))
    size = rng.uniform(0.05, 0.4, (num, 2)) * (w, h)
    corner = rng.uniform(0, 1, (num, 2)) * ((w, h) - size)
    boxes = np.concatenate([corner, corner + size], 1).astype(np.float32)
    return dict(
        img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        img_id=index,
        img_path=f'synthetic_{index}.jpg',
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=rng.integers(0, CLASSES, num),
        gt_ignore_flags=np.zeros(num, dtype=bool))


def as_lossmix(sample):
    """A copy of ``sample`` whose boxes are ``LossMixBoxes`` (loaded with
    ``box_type='lossmix_hbox'``)."""
    sample = dict(sample)
    sample['gt_bboxes'] = LossMixBoxes(sample['gt_bboxes'].tensor)
    return sample


def transform_pairs(scale):
    """Label -> (ours, counterpart, partners each call needs): the two
    transform configs compared at ``scale``."""
    img_scale = (scale, scale)
    mosaic = dict(img_scale=img_scale, pad_val=114.0)
    cached_mosaic = dict(mosaic, max_cached_images=20, random_pop=False)
    mixup = dict(img_scale=img_scale, ratio_range=(0.5, 1.5), pad_val=114.0)
    cached_mixup = dict(
        img_scale=img_scale,
        ratio_range=(1.0, 1.0),
        max_cached_images=10,
        random_pop=False,
        pad_val=(114, 114, 114))
    return {
        'LossMixMosaic / Mosaic': (dict(type='LossMixMosaic', **mosaic),
                                   dict(type='Mosaic', **mosaic), 3),
        'LossMixCachedMosaic / CachedMosaic':
        (dict(type='LossMixCachedMosaic',
              **cached_mosaic), dict(type='CachedMosaic', **cached_mosaic), 0),
        'LossMixMixUp / MixUp': (dict(type='LossMixMixUp',
                                      **mixup), dict(type='MixUp',
                                                     **mixup), 1),
        'LossMixCachedMixUp / CachedMixUp':
        (dict(type='LossMixCachedMixUp',
              **cached_mixup), dict(type='CachedMixUp', **cached_mixup), 0),
        'LossMixCutMix lossmix / its union mode':
        (dict(type='LossMixCutMix'), dict(type='LossMixCutMix',
                                          mode='union'), 1),
        'PackLossMixInputs / PackDetInputs': (dict(type='PackLossMixInputs'),
                                              dict(type='PackDetInputs'), 0),
    }


def reseed(seed):
    """The same random state for both calls of a round."""
    np.random.seed(seed)
    py_random.seed(seed)


def timed(fn, arg, seed):
    """(wall s, CPU s) of ``fn(arg)`` after :func:`reseed`."""
    reseed(seed)
    cpu, wall = time.process_time(), time.perf_counter()
    fn(arg)
    return time.perf_counter() - wall, time.process_time() - cpu


def run_pairs(calls, warmup, make_input, fns):
    """Interleave two callables round by round (their order alternating).

    Args:
        calls (int): measured rounds.
        warmup (int): rounds before them, not kept.
        make_input (callable): ``(round, name) -> input``, made before the
            timer starts (a fresh copy for each call).
        fns (dict): the two callables by name.

    Returns:
        dict: name -> (median wall s, median CPU s).
    """
    names = list(fns)
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for i in range(warmup + calls):
        for name in (names if i % 2 == 0 else names[::-1]):
            arg = make_input(i, name)
            w, c = timed(fns[name], arg, seed=i)
            if i >= warmup:
                wall[name].append(w)
                cpu[name].append(c)
    return {
        name: (statistics.median(wall[name]), statistics.median(cpu[name]))
        for name in names
    }


def bench_transform(ours, stock, partners, pool, calls, warmup):
    """Median (wall, CPU) s per call of the ``ours`` and ``stock``
    transform configs on the samples of ``pool`` (cycled), each sample
    with the next ``partners`` ones as ``mix_results``."""
    inputs = {'ours': [as_lossmix(s) for s in pool], 'stock': pool}

    def make_input(i, name):
        samples = inputs[name]
        results = copy.deepcopy(samples[i % len(samples)])
        results['mix_results'] = [
            copy.deepcopy(samples[(i + k) % len(samples)])
            for k in range(1, partners + 1)
        ]
        return results

    fns = {'ours': TRANSFORMS.build(ours), 'stock': TRANSFORMS.build(stock)}
    return run_pairs(calls, warmup, make_input, fns)


def bench_transforms(args):
    """Rows (label, scale, ours (wall, CPU) s, stock (wall, CPU) s) of
    every transform pair at every scale."""
    init_default_scope('mmdet')
    rows = []
    for scale in args.scales:
        rng = np.random.default_rng(scale)
        pool = [synthetic_sample(rng, scale, k) for k in range(POOL)]
        for label, (ours, stock, partners) in transform_pairs(scale).items():
            med = bench_transform(ours, stock, partners, pool, args.calls,
                                  args.warmup)
            rows.append((label, scale, med['ours'], med['stock']))
            print(f'{label} @ {scale}: {med}', flush=True)
    return rows


def bench_pipelines(args):
    """Median (wall, CPU) s of one ``dataset[i]`` of each toy RTMDet
    config's training dataset, interleaved, reseeded alike."""
    init_default_scope('mmdet')
    datasets = {
        name:
        DATASETS.build(
            benchmark.load_cfg(config,
                               args.data_root).train_dataloader.dataset)
        for name, config in RTMDET.items()
    }
    fns = {
        name: (lambda i, d=dataset: d[i % len(d)])
        for name, dataset in datasets.items()
    }
    return run_pairs(args.samples, args.warmup, lambda i, name: i, fns)


def bench_iterations(args):
    """Median (wall, CPU) s of one training iteration of each toy RTMDet
    config, interleaved round by round, reseeded alike before each step."""
    trainers = {
        name: benchmark.Trainer(config, args.data_root)
        for name, config in RTMDET.items()
    }
    fns = {name: (lambda _, t=t: t.step()) for name, t in trainers.items()}
    return run_pairs(args.iters, args.iter_warmup, lambda i, name: i, fns)


def ratio_cells(ours, stock, goal):
    """Markdown cells: both medians (ms), the wall ratio and its goal, the
    CPU-time ratio and its goal."""
    wall, cpu = ours[0] / stock[0], ours[1] / stock[1]
    return (f'{ours[0] * 1e3:.2f} | {stock[0] * 1e3:.2f} | {wall:.3f} | '
            f'{benchmark.fmt_goal(wall, goal)} | {cpu:.3f} | '
            f'{benchmark.fmt_goal(cpu, goal)}')


def command_line(args):
    """The command that reproduces the run (for the tables' header)."""
    return (f'python tools/benchmark_region.py --scales '
            f'{" ".join(map(str, args.scales))} --calls {args.calls} '
            f'--warmup {args.warmup} --samples {args.samples} --iters '
            f'{args.iters} --iter-warmup {args.iter_warmup}' +
            (f' --threads {args.threads}' if args.threads else ''))


def tables(args, transforms, pipes, iters):
    """The markdown of the measured tables (``pipes`` / ``iters`` may be
    None: skipped)."""
    lines = [
        f'Measured {time.strftime("%Y-%m-%d %H:%M")} on {os.cpu_count()} '
        f'CPU cores, torch {torch.__version__}: `{command_line(args)}`', '',
        '| transform (ours / counterpart) | scale | ours (ms, median) | '
        'counterpart (ms, median) | ratio | goal | CPU-time ratio | '
        'its goal |', '|---|---|---|---|---|---|---|---|'
    ]
    for label, scale, ours, stock in transforms:
        lines.append(f'| {label} | {scale} | '
                     f'{ratio_cells(ours, stock, TRANSFORM_GOAL)} |')
    measures = []
    if pipes:
        measures.append('| toy RTMDet pipeline per sample, lossmix-mosaic / '
                        'union-mosaic | ' +
                        ratio_cells(pipes['lossmix-mosaic'],
                                    pipes['union-mosaic'], TRANSFORM_GOAL) +
                        ' |')
    if iters:
        measures.append('| toy RTMDet training iteration, lossmix-mosaic / '
                        'union-mosaic | ' +
                        ratio_cells(iters['lossmix-mosaic'],
                                    iters['union-mosaic'], ITERATION_GOAL) +
                        ' |')
    if measures:
        lines += [
            '', '| measure | lossmix-mosaic (ms, median) | union-mosaic '
            '(ms, median) | ratio | goal | CPU-time ratio | its goal |',
            '|---|---|---|---|---|---|---|'
        ] + measures
    return '\n'.join(lines)


def plot_rows(transforms, pipes, iters):
    """The wall-time ratios as ``plot_benchmark`` rows."""
    rows = [
        dict(
            variant=f'{label.split(" / ")[0]} @ {scale}',
            sec_per_iter=ours[0],
            ratio=ours[0] / stock[0],
            goal=TRANSFORM_GOAL) for label, scale, ours, stock in transforms
    ]
    for name, meds, goal in (('RTMDet pipeline / sample', pipes,
                              TRANSFORM_GOAL), ('RTMDet iteration', iters,
                                                ITERATION_GOAL)):
        if meds:
            rows.append(
                dict(
                    variant=name,
                    sec_per_iter=meds['lossmix-mosaic'][0],
                    ratio=meds['lossmix-mosaic'][0] / meds['union-mosaic'][0],
                    goal=goal))
    return rows


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(osp.join(args.data_root, 'annotations/train.json')):
        generate_toy_data.generate(args.data_root)
    # one torch thread, as in a DataLoader worker, for the per-sample
    # measures; the iterations run in the main process on every core
    torch.set_num_threads(1)
    transforms = bench_transforms(args)
    pipes = bench_pipelines(args) if args.samples else None
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    iters = bench_iterations(args) if args.iters else None
    text = tables(args, transforms, pipes, iters)
    print('\n' + text)
    if args.out:
        benchmark.write_markdown(text, args.out)
        png = osp.splitext(args.out)[0] + '.png'
        write_figure(plot_rows(transforms, pipes, iters), png)
        print(f'wrote {args.out} and {png}')
    return text


def write_figure(rows, png):
    """``plot_benchmark``'s bars of the ratios, their axis relabelled."""
    # imported here: matplotlib is needed only when writing
    from plot_results import plot_benchmark
    fig = plot_benchmark(
        rows, None, 'region LossMix over its counterpart (median wall time)')
    fig.axes[0].set_xlabel('LossMix time / counterpart time (per sample; '
                           'per iteration for the last bar)')
    fig.savefig(png)


if __name__ == '__main__':
    main()
