"""Cost of LossMix on this machine, measured side by side in one run.

    python tools/benchmark.py [--iters 20] [--warmup 5] [--out docs/benchmark.md]

1. Train-iteration time (data loading in the main process + forward +
   backward + SGD step) of the toy Faster R-CNN for each mixing variant,
   interleaved iteration by iteration so that machine noise hits all alike;
   median over ``--iters`` iterations after ``--warmup``. Ratios are over the
   no-mix baseline.
2. Per-sample pipeline cost (one ``MultiImageMixDataset.__getitem__``) of
   ``LossMixPair`` over mmdet's ``MixUp`` on the same images, interleaved.
3. Time of the in-batch mixing op (``BatchLossMix``) over its iteration's.
4. Training memory of each variant: peak RSS during the same iterations
   minus RSS after building model and loader, each variant in its own
   subprocess (RSS peaks cannot be separated inside one process).

Every ratio is printed with its goal. The toy data are generated in
``data/toy`` if missing.

``--da`` measures instead the toy domain-adaptation iteration: no-mix,
the MixedDomainTeacher's warmup iteration and its adaptation iteration
(teacher pseudo-labelling, three student passes, discriminator, EMA),
interleaved, and the toy adaptation config's training time that follows
(warmup and adaptation iterations x their medians).
"""
import argparse
import copy
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import psutil
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmdet.registry import DATASETS, MODELS
import lossmix_mm  # noqa: F401
from lossmix_mm.engine.hooks import copy_student_to_teacher, ema_update
from lossmix_mm.models.data_preprocessors import BatchLossMix

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import generate_toy_data  # noqa: E402

TOY = osp.join(ROOT, 'configs', 'toy')
# variant -> (config, goal of its iteration-time ratio over no-mix)
VARIANTS = {
    'no-mix': ('faster-rcnn_r18_fpn_1xb4-800it_toy.py', None),
    'lossmix (pair)': ('faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py', 1.03),
    'lossmix (in-batch)':
    ('faster-rcnn_r18_fpn_lossmix-inbatch_1xb4-800it_toy.py', 1.03),
    'lossmix exact (pair)':
    ('faster-rcnn_r18_fpn_lossmix-exact_1xb4-800it_toy.py', 1.10),
    'union (pair)': ('faster-rcnn_r18_fpn_union_1xb4-800it_toy.py', None),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=20,
                        help='measured iterations per variant (>= 20)')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--pipeline-samples', type=int, default=200)
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/toy'))
    parser.add_argument('--out', help='also write the tables (markdown)')
    parser.add_argument('--da', action='store_true',
                        help='measure the domain-adaptation iterations')
    parser.add_argument('--variant', help=argparse.SUPPRESS)  # memory probe
    return parser.parse_args(argv)


def load_cfg(config, data_root):
    cfg = Config.fromfile(osp.join(TOY, config))
    root = data_root.rstrip('/') + '/'
    dataset = cfg.train_dataloader.dataset
    inner = dataset.get('dataset', dataset)
    inner.data_root = root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    return cfg


class Trainer:
    """One variant: model, optimizer, loader; one iteration at a time."""

    def __init__(self, config, data_root, seed=0):
        init_default_scope('mmdet')
        self._build(load_cfg(config, data_root), seed)

    def _build(self, cfg, seed):
        self.cfg = cfg
        torch.manual_seed(seed)
        np.random.seed(seed)
        self.model = MODELS.build(cfg.model)
        self.model.init_weights()
        self.model.train()
        self.optim = build_optim_wrapper(self.model, cfg.optim_wrapper)
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=seed)
        self.data = iter(loader)
        self.augment_times = []
        preprocessor = self.model.data_preprocessor
        for aug in getattr(preprocessor, 'batch_augments', None) or []:
            if isinstance(aug, BatchLossMix):
                self._time(aug)

    def _time(self, module):
        forward = module.forward

        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = forward(*args, **kwargs)
            self.augment_times.append(time.perf_counter() - start)
            return out

        module.forward = timed

    def step(self):
        start = time.perf_counter()
        batch = next(self.data)
        loaded = time.perf_counter()
        self.model.train_step(batch, self.optim)
        done = time.perf_counter()
        return loaded - start, done - start


def run_interleaved(trainers, args):
    """One iteration of each trainer in turn, ``--warmup + --iters``
    rounds; the (total, data) times of the measured rounds per trainer."""
    times = {name: [] for name in trainers}
    data_times = {name: [] for name in trainers}
    for it in range(args.warmup + args.iters):
        for name, trainer in trainers.items():
            data_t, total = trainer.step()
            if it >= args.warmup:
                times[name].append(total)
                data_times[name].append(data_t)
        print(f'iteration {it + 1}/{args.warmup + args.iters}', flush=True)
    return times, data_times


def bench_iterations(args):
    trainers = {name: Trainer(cfg, args.data_root)
                for name, (cfg, _) in VARIANTS.items()}
    times, data_times = run_interleaved(trainers, args)
    med = {name: statistics.median(v) for name, v in times.items()}
    rows = []
    for name, (_, goal) in VARIANTS.items():
        ratio = med[name] / med['no-mix']
        rows.append((name, med[name], statistics.median(data_times[name]),
                     ratio, goal))
    inbatch = trainers['lossmix (in-batch)']
    aug = statistics.median(inbatch.augment_times[-args.iters:])
    return rows, aug, med['lossmix (in-batch)']


DA_CONFIG = 'mixed-teacher_faster-rcnn_r18_fpn_lossmix_1xb2+2-200+600it_toy2clipart.py'  # noqa


class DATrainer(Trainer):
    """The toy MixedDomainTeacher in one phase (random init; in 'adapt' the
    teacher is a copy of the student and the EMA runs after each step)."""

    def __init__(self, phase, data_root, target_root, seed=0):
        init_default_scope('mmdet')
        cfg = Config.fromfile(osp.join(TOY, DA_CONFIG))
        source, target = cfg.train_dataloader.dataset.datasets
        source.data_root = data_root.rstrip('/') + '/'
        target.data_root = target_root.rstrip('/') + '/'
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
        self._build(cfg, seed)
        self.model.set_phase(phase)
        if phase == 'adapt':
            copy_student_to_teacher(self.model)
        self.phase = phase
        self.keep_rate = cfg.custom_hooks[0].keep_rate

    def step(self):
        out = super().step()
        if self.phase == 'adapt':
            start = time.perf_counter()
            ema_update(self.model, self.keep_rate)
            out = (out[0], out[1] + time.perf_counter() - start)
        return out


def bench_da(args):
    target_root = osp.join(ROOT, 'data/toy_clipart')
    generate_toy_data.generate(target_root, seed=1, style='clipart')
    trainers = {
        'no-mix (batch 4)': Trainer(VARIANTS['no-mix'][0], args.data_root),
        'DA warmup (2 + 2)': DATrainer('warmup', args.data_root,
                                       target_root),
        'DA adaptation (2 + 2)': DATrainer('adapt', args.data_root,
                                           target_root),
    }
    times, _ = run_interleaved(trainers, args)
    med = {name: statistics.median(v) for name, v in times.items()}
    cfg = trainers['DA adaptation (2 + 2)'].cfg
    warmup_iters = cfg.custom_hooks[0].warmup_iters
    adapt_iters = cfg.train_cfg.max_iters - warmup_iters
    lines = [
        f'Measured {time.strftime("%Y-%m-%d")} on {os.cpu_count()} CPU '
        f'cores, torch {torch.__version__}: `python tools/benchmark.py --da '
        f'--iters {args.iters} --warmup {args.warmup}`', '',
        '| iteration | s (median) | ratio over no-mix |', '|---|---|---|'
    ]
    base = med['no-mix (batch 4)']
    for name, t in med.items():
        lines.append(f'| {name} | {t:.3f} | {t / base:.2f} |')
    train_s = warmup_iters * med['DA warmup (2 + 2)'] + \
        adapt_iters * med['DA adaptation (2 + 2)']
    lines += [
        '', f'`{DA_CONFIG}`: {warmup_iters} warmup x '
        f'{med["DA warmup (2 + 2)"]:.3f} s + {adapt_iters} adaptation x '
        f'{med["DA adaptation (2 + 2)"]:.3f} s = {train_s / 60:.1f} min of '
        f'training (= {train_s / base:.0f} no-mix iterations), plus the '
        'evaluation of teacher and student'
    ]
    return '\n'.join(lines)


def bench_pipeline(args):
    """LossMixPair vs mmdet MixUp per sample, same images, interleaved."""
    init_default_scope('mmdet')
    cfg = load_cfg(VARIANTS['lossmix (pair)'][0], args.data_root)
    wrapper = copy.deepcopy(cfg.train_dataloader.dataset)
    scale = cfg.get('img_scale', (192, 192))
    pipelines = {
        'LossMixPair': [dict(type='LossMixPair'),
                        dict(type='PackLossMixInputs')],
        'mmdet MixUp': [dict(type='MixUp', img_scale=scale),
                        dict(type='PackDetInputs')],
    }
    datasets = {}
    for name, pipeline in pipelines.items():
        wrapper.pipeline = pipeline
        datasets[name] = DATASETS.build(copy.deepcopy(wrapper))
    times = {name: [] for name in datasets}
    np.random.seed(0)
    for i in range(args.pipeline_samples):
        for name, dataset in datasets.items():
            start = time.perf_counter()
            dataset[i % len(dataset)]
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(v) for name, v in times.items()}
    return med


def memory_probe(args):
    """RSS of this process: after building the variant, and its peak over
    the training iterations (sampled after each loading and each step)."""
    proc = psutil.Process()
    trainer = Trainer(VARIANTS[args.variant][0], args.data_root)
    built = proc.memory_info().rss
    peak = built
    for _ in range(args.warmup + args.iters):
        batch = next(trainer.data)
        peak = max(peak, proc.memory_info().rss)
        trainer.model.train_step(batch, trainer.optim)
        peak = max(peak, proc.memory_info().rss)
    print(json.dumps(dict(built_mib=built / 2**20, peak_mib=peak / 2**20,
                          maxrss_mib=resource.getrusage(
                              resource.RUSAGE_SELF).ru_maxrss / 1024)))


def bench_memory(args):
    peaks = {}
    for name in VARIANTS:
        proc = subprocess.run(
            [sys.executable, __file__, '--variant', name, '--iters',
             str(args.iters), '--warmup', str(args.warmup), '--data-root',
             args.data_root],
            capture_output=True, text=True, check=True)
        mem = json.loads(proc.stdout.strip().splitlines()[-1])
        peaks[name] = mem['peak_mib'] - mem['built_mib']
        print(f'memory: {name} {mem}', flush=True)
    return peaks


def fmt_goal(ratio, goal):
    if goal is None:
        return '-'
    return f'<= {goal:.2f} ({"met" if ratio <= goal else "MISSED"})'


def main(argv=None):
    args = parse_args(argv)
    if args.variant:
        return memory_probe(args)
    if args.iters < 20:
        raise ValueError(f'--iters must be >= 20, got {args.iters}')
    generate_toy_data.generate(args.data_root)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.da:
        text = bench_da(args)
        print('\n' + text)
        if args.out:
            with open(args.out, 'w') as f:
                f.write(text + '\n')
        return

    rows, aug, inbatch_iter = bench_iterations(args)
    pipe = bench_pipeline(args)
    peaks = bench_memory(args)

    lines = [
        f'Measured {time.strftime("%Y-%m-%d")} on {os.cpu_count()} CPU '
        f'cores, torch {torch.__version__}: `python tools/benchmark.py '
        f'--iters {args.iters} --warmup {args.warmup}`', '',
        '| variant | iteration (s, median) | of which data (s) | '
        'ratio over no-mix | goal | training memory (MiB) | memory ratio |',
        '|---|---|---|---|---|---|---|'
    ]
    for name, t, data_t, ratio, goal in rows:
        lines.append(
            f'| {name} | {t:.3f} | {data_t:.3f} | {ratio:.3f} | '
            f'{fmt_goal(ratio, goal)} | {peaks[name]:.0f} | '
            f'{peaks[name] / peaks["no-mix"]:.3f} |')
    pipe_ratio = pipe['LossMixPair'] / pipe['mmdet MixUp']
    aug_ratio = aug / inbatch_iter
    lines += [
        '', '| measure | value | goal |', '|---|---|---|',
        f'| per-sample pipeline, LossMixPair / mmdet MixUp | '
        f'{pipe["LossMixPair"] * 1e3:.2f} ms / {pipe["mmdet MixUp"] * 1e3:.2f}'
        f' ms = {pipe_ratio:.3f} | {fmt_goal(pipe_ratio, 0.7)} |',
        f'| in-batch mixing op / its iteration | {aug * 1e3:.2f} ms / '
        f'{inbatch_iter * 1e3:.0f} ms = {aug_ratio:.4f} | '
        f'{fmt_goal(aug_ratio, 0.01)} |'
    ]
    text = '\n'.join(lines)
    print('\n' + text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
