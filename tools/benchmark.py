"""Cost of LossMix on this machine, measured side by side in one run.

    python tools/benchmark.py [--model {toy,r50-fpn}] [--device {cpu,cuda}]
        [--iters 20] [--warmup 5] [--variants KEY ...]
        [--out docs/benchmark.md] [--breakdown] [--da]

1. Train-iteration time (data loading in the main process + forward +
   backward + SGD step) of each mixing variant, interleaved iteration by
   iteration so that machine noise hits all alike; median over ``--iters``
   iterations after ``--warmup``. Ratios are over the no-mix baseline.
   On the CPU the table also gives the ratio of the steps' median CPU
   time of this process (``time.process_time``: every thread's, data
   loading included), which time lost to other processes or to the
   host of a virtual machine inflates less than wall time.
   ``--model toy``: the toy Faster R-CNN of ``configs/toy`` (batch 4, 192 px).
   ``--model r50-fpn``: the paper's model, mmdet's Faster R-CNN R50-FPN as
   ``configs/lossmix/faster-rcnn_r50_fpn_*_8xb8-270k_coco.py`` train it
   (LossMix heads, caffe-style ResNet-50), random init, BN instead of SyncBN
   (one process), on the toy images resized to (1333, 800) keep-ratio (the
   paper's 800-px scale), batch 2.
2. Per-sample pipeline cost (one ``MultiImageMixDataset.__getitem__``) of
   ``LossMixPair`` over mmdet's ``MixUp`` on the same images, interleaved
   (toy model only: the pipeline does not depend on the model).
3. Time of the in-batch mixing op (``BatchLossMix``) over its iteration's.
4. Training memory of each variant: peak RSS (on cuda: peak allocated GPU
   memory) during the same iterations minus that after building model and
   loader, each variant in its own subprocess (``--no-memory`` skips it).

Every ratio is printed with its goal. ``--out X.md`` writes the tables
(keeping the hand-written reading of an existing ``X.md``, from its first
``## `` heading on) and ``X.png``, the ratios as bars with their goals. The
toy data are generated in ``data/toy`` if missing.

``--breakdown`` measures instead where a variant's extra time goes, stage
by stage (RPN and RoI assignment, NMS, RoIAlign forward and backward, ...)
with counts that explain them (see ``tools/benchmark_breakdown.py``);
``--variants`` picks the variants (default: no-mix and in-batch).

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
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import lossmix_mm  # noqa: F401
from lossmix_mm.engine.hooks import copy_student_to_teacher, ema_update
from lossmix_mm.models.data_preprocessors import BatchLossMix

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import benchmark_breakdown  # noqa: E402
import generate_toy_data  # noqa: E402

TOY = osp.join(ROOT, 'configs', 'toy')
LOSSMIX = osp.join(ROOT, 'configs', 'lossmix')
# model -> variant key -> (table label, config, goal of the iteration-time
# ratio over no-mix); the first variant of each model is the baseline
MODEL_VARIANTS = {
    'toy': {
        'no-mix':
        ('no-mix', 'toy/faster-rcnn_r18_fpn_1xb4-800it_toy.py', None),
        'pair': ('lossmix (pair)',
                 'toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py', 1.03),
        'cached':
        ('lossmix (pair, cached)',
         'toy/faster-rcnn_r18_fpn_lossmix-cached_1xb4-800it_toy.py', 1.03),
        'inbatch':
        ('lossmix (in-batch)',
         'toy/faster-rcnn_r18_fpn_lossmix-inbatch_1xb4-800it_toy.py', 1.03),
        'exact':
        ('lossmix exact (pair)',
         'toy/faster-rcnn_r18_fpn_lossmix-exact_1xb4-800it_toy.py', 1.10),
        'union': ('union (pair)',
                  'toy/faster-rcnn_r18_fpn_union_1xb4-800it_toy.py', None),
        # the pair transform's canvas and second image without the
        # partner's boxes: what the pair costs beyond in-batch mixing
        'noise': ('noise (pair)',
                  'toy/faster-rcnn_r18_fpn_noise_1xb4-800it_toy.py', None),
    },
    'r50-fpn': {
        'no-mix': ('no-mix', 'lossmix/faster-rcnn_r50_fpn_8xb8-270k_coco.py',
                   None),
        'pair':
        ('lossmix (pair)',
         'lossmix/faster-rcnn_r50_fpn_lossmix-pair_8xb8-270k_coco.py', 1.03),
        'inbatch':
        ('lossmix (in-batch)',
         'lossmix/faster-rcnn_r50_fpn_lossmix_8xb8-270k_coco.py', 1.03),
        'exact':
        ('lossmix exact (in-batch)',
         'lossmix/faster-rcnn_r50_fpn_lossmix-exact_8xb8-270k_coco.py', 1.10),
        'union':
        ('union (pair)',
         'lossmix/faster-rcnn_r50_fpn_union-pair_8xb8-270k_coco.py', None),
    },
}
# the toy variants, label -> (config, goal), as before --model existed
VARIANTS = {
    label: (osp.basename(config), goal)
    for label, config, goal in MODEL_VARIANTS['toy'].values()
}
R50_SCALE = (1333, 800)  # the paper's 800-px test scale, keep ratio
R50_BATCH = 2
MIN_ITERS = 20  # below this a run is a smoke test, not a measurement


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--model',
        choices=sorted(MODEL_VARIANTS),
        default='toy',
        help='toy Faster R-CNN (192 px, batch 4) or the '
        "paper's R50-FPN (1333 x 800, batch 2, ~10 s an "
        'iteration on 2 CPU cores)')
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument(
        '--iters',
        type=int,
        default=20,
        help=f'measured iterations per variant (>= '
        f'{MIN_ITERS} for a measurement; fewer is a smoke '
        'run, marked so in the table)')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument(
        '--variants',
        nargs='+',
        metavar='KEY',
        help='variants to run (the no-mix baseline is '
        'always added); keys: ' +
        '; '.join(f'{m}: {" ".join(v)}' for m, v in MODEL_VARIANTS.items()))
    parser.add_argument(
        '--pipeline-samples',
        type=int,
        default=200,
        help='samples of the pipeline comparison (0: skip)')
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip the memory probes (one subprocess per '
        'variant)')
    parser.add_argument(
        '--threads', type=int, help='torch CPU threads (default: all cores)')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/toy'))
    parser.add_argument(
        '--out',
        help='also write the tables (markdown) and '
        'a figure beside them (.png)')
    parser.add_argument(
        '--breakdown',
        action='store_true',
        help='where the extra time of a variant goes, stage '
        'by stage (default variants: no-mix, in-batch)')
    parser.add_argument(
        '--da',
        action='store_true',
        help='measure the domain-adaptation iterations')
    parser.add_argument('--variant', help=argparse.SUPPRESS)  # memory probe
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error(f'--iters must be >= 1 and --warmup >= 0, got '
                     f'{args.iters} and {args.warmup}')
    known = MODEL_VARIANTS[args.model]
    for key in (args.variants
                or []) + ([args.variant] if args.variant else []):
        if key not in known:
            parser.error(f'unknown variant {key!r} for --model '
                         f'{args.model}; choose from {" ".join(known)}')
    if args.da and args.model != 'toy':
        parser.error('--da measures the toy domain-adaptation model only')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is available')
    return args


def selected_variants(args):
    """The chosen variant keys, baseline first, in the table's order."""
    known = MODEL_VARIANTS[args.model]
    if args.variants:
        chosen = set(args.variants)
    elif args.breakdown:
        chosen = {'inbatch'}
    else:
        chosen = set(known)
    baseline = next(iter(known))
    return [key for key in known if key == baseline or key in chosen]


def toy_metainfo():
    """Classes and palette of the toy dataset (its base config's)."""
    base = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/toy_detection.py'))
    return base.metainfo.to_dict()


def on_toy_images(dataset, data_root, scale):
    """A copy of a (COCO) training dataset config that reads the toy images
    instead, every resize replaced by one fixed keep-ratio ``scale``; a
    ``MultiImageMixDataset`` keeps its pipeline, its inner dataset is
    rewritten."""
    dataset = copy.deepcopy(dataset)
    if dataset['type'] == 'MultiImageMixDataset':
        dataset['dataset'] = on_toy_images(dataset['dataset'], data_root,
                                           scale)
        return dataset
    pipeline = []
    for step in dataset['pipeline']:
        if step['type'] in ('Resize', 'RandomResize', 'RandomChoiceResize'):
            step = dict(type='Resize', scale=scale, keep_ratio=True)
        pipeline.append(step)
    dataset.update(
        type='CocoDataset',
        data_root=data_root.rstrip('/') + '/',
        metainfo=toy_metainfo(),
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=pipeline)
    return dataset


def load_cfg(config, data_root, model='toy'):
    """The variant's config, trained in the main process on the toy data.

    Args:
        config (str): path under ``configs/`` (a bare file name is a toy
            config).
        data_root (str): the toy dataset.
        model (str): ``'toy'`` or ``'r50-fpn'`` (random init, BN, toy images
            at ``R50_SCALE``, batch ``R50_BATCH``).
    """
    if osp.dirname(config) == '':
        config = osp.join('toy', config)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    if model == 'toy':
        dataset = cfg.train_dataloader.dataset
        inner = dataset.get('dataset', dataset)
        inner.data_root = data_root.rstrip('/') + '/'
    else:
        backbone = cfg.model.backbone
        backbone.init_cfg = None  # random init: nothing to download
        if backbone.norm_cfg.type == 'SyncBN':  # one process, no group
            backbone.norm_cfg = dict(type='BN', requires_grad=True)
        cfg.train_dataloader.dataset = on_toy_images(
            cfg.train_dataloader.dataset, data_root, R50_SCALE)
        cfg.train_dataloader.batch_size = R50_BATCH
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    return cfg


def synchronize(device):
    """Wait for the device's queued work (CUDA runs asynchronously)."""
    if device == 'cuda':
        torch.cuda.synchronize()


class Trainer:
    """One variant: model, optimizer, loader; one iteration at a time.

    Args:
        config (str): see :func:`load_cfg`.
        data_root (str): the toy dataset.
        seed (int): seeds model init and loader (the same for every
            variant: same initial weights, same images in the same order).
        model (str): ``'toy'`` or ``'r50-fpn'``.
        device (str): ``'cpu'`` or ``'cuda'``.
    """

    def __init__(self, config, data_root, seed=0, model='toy', device='cpu'):
        init_default_scope('mmdet')
        self._build(load_cfg(config, data_root, model), seed, device)

    def _build(self, cfg, seed, device='cpu'):
        self.cfg = cfg
        self.device = device
        self.timer = time.perf_counter
        self.cpu_times = []  # this process's CPU time of each step
        torch.manual_seed(seed)
        np.random.seed(seed)
        self.model = MODELS.build(cfg.model)
        self.model.init_weights()
        self.model.to(device)  # its data preprocessor moves the batches
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
            synchronize(self.device)
            start = self.timer()
            out = forward(*args, **kwargs)
            synchronize(self.device)
            self.augment_times.append(self.timer() - start)
            return out

        module.forward = timed

    def step(self):
        """One training iteration; (loading, total) seconds of
        ``self.timer`` (wall clock unless changed)."""
        synchronize(self.device)
        cpu_start = time.process_time()
        start = self.timer()
        batch = next(self.data)
        loaded = self.timer()
        self.model.train_step(batch, self.optim)
        synchronize(self.device)
        done = self.timer()
        self.cpu_times.append(time.process_time() - cpu_start)
        return loaded - start, done - start


def build_trainers(args, keys):
    variants = MODEL_VARIANTS[args.model]
    return {
        variants[key][0]:
        Trainer(
            variants[key][1],
            args.data_root,
            model=args.model,
            device=args.device)
        for key in keys
    }


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


def bench_iterations(args, keys):
    """Rows (label, s, data s, ratio, goal); with the in-batch variant
    (median mixing op s, median in-batch iteration s), else None; and per
    label the ratio of the median CPU time of this process over no-mix's
    (None on cuda)."""
    trainers = build_trainers(args, keys)
    times, data_times = run_interleaved(trainers, args)
    med = {name: statistics.median(v) for name, v in times.items()}
    cpu_med = {
        name: statistics.median(trainer.cpu_times[-args.iters:])
        for name, trainer in trainers.items()
    }
    variants = MODEL_VARIANTS[args.model]
    base = variants[keys[0]][0]
    rows = []
    for key in keys:
        name, _, goal = variants[key]
        rows.append((name, med[name], statistics.median(data_times[name]),
                     med[name] / med[base], goal))
    cpu_ratios = None if args.device == 'cuda' else {
        name: cpu_med[name] / cpu_med[base]
        for name in cpu_med
    }
    if 'inbatch' not in keys:
        return rows, None, cpu_ratios
    name = variants['inbatch'][0]
    aug = statistics.median(trainers[name].augment_times[-args.iters:])
    return rows, (aug, med[name]), cpu_ratios


DA_CONFIG = 'mixed-teacher_faster-rcnn_r18_fpn_lossmix_1xb2+2-200+600it_toy2clipart.py'  # noqa


class DATrainer(Trainer):
    """The toy MixedDomainTeacher in one phase (random init; in 'adapt' the
    teacher is a copy of the student and the EMA runs after each step)."""

    def __init__(self, phase, data_root, target_root, seed=0, device='cpu'):
        init_default_scope('mmdet')
        cfg = Config.fromfile(osp.join(TOY, DA_CONFIG))
        source, target = cfg.train_dataloader.dataset.datasets
        source.data_root = data_root.rstrip('/') + '/'
        target.data_root = target_root.rstrip('/') + '/'
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
        self._build(cfg, seed, device)
        self.model.set_phase(phase)
        if phase == 'adapt':
            copy_student_to_teacher(self.model)
        self.phase = phase
        self.keep_rate = cfg.custom_hooks[0].keep_rate

    def step(self):
        out = super().step()
        if self.phase == 'adapt':
            start = self.timer()
            ema_update(self.model, self.keep_rate)
            synchronize(self.device)
            out = (out[0], out[1] + self.timer() - start)
        return out


def command_line(args):
    """The command that reproduces the run (for the tables' header)."""
    parts = ['python tools/benchmark.py']
    if args.model != 'toy':
        parts.append(f'--model {args.model}')
    if args.device != 'cpu':
        parts.append(f'--device {args.device}')
    if args.da:
        parts.append('--da')
    if args.breakdown:
        parts.append('--breakdown')
    if args.variants:
        parts.append('--variants ' + ' '.join(args.variants))
    if args.threads:
        parts.append(f'--threads {args.threads}')
    parts.append(f'--iters {args.iters} --warmup {args.warmup}')
    return ' '.join(parts)


def header(args):
    where = (f'{os.cpu_count()} CPU cores' if args.device == 'cpu' else
             f'{torch.cuda.get_device_name()} (CUDA {torch.version.cuda})')
    lines = [
        f'Measured {time.strftime("%Y-%m-%d")} on {where}, torch '
        f'{torch.__version__}: `{command_line(args)}`'
    ]
    if args.model == 'r50-fpn':
        lines.append(
            'Model: Faster R-CNN R50-FPN as `configs/lossmix/faster-rcnn_r50_'
            'fpn_*_8xb8-270k_coco.py` (random init, BN for SyncBN), toy '
            f'images resized to {R50_SCALE} keep-ratio, batch {R50_BATCH}.')
    if args.iters < MIN_ITERS:
        lines.append(f'**Smoke run ({args.iters} iterations < {MIN_ITERS}): '
                     'not a measurement.**')
    return lines


def bench_da(args):
    target_root = osp.join(ROOT, 'data/toy_clipart')
    generate_toy_data.generate(target_root, seed=1, style='clipart')
    trainers = {
        'no-mix (batch 4)':
        Trainer(VARIANTS['no-mix'][0], args.data_root, device=args.device),
        'DA warmup (2 + 2)':
        DATrainer('warmup', args.data_root, target_root, device=args.device),
        'DA adaptation (2 + 2)':
        DATrainer('adapt', args.data_root, target_root, device=args.device),
    }
    times, _ = run_interleaved(trainers, args)
    med = {name: statistics.median(v) for name, v in times.items()}
    cfg = trainers['DA adaptation (2 + 2)'].cfg
    warmup_iters = cfg.custom_hooks[0].warmup_iters
    adapt_iters = cfg.train_cfg.max_iters - warmup_iters
    lines = header(args) + [
        '', '| iteration | s (median) | ratio over no-mix |', '|---|---|---|'
    ]
    base = med['no-mix (batch 4)']
    rows = []
    for name, t in med.items():
        lines.append(f'| {name} | {t:.3f} | {t / base:.2f} |')
        rows.append(
            dict(variant=name, sec_per_iter=t, ratio=t / base, goal=None))
    train_s = warmup_iters * med['DA warmup (2 + 2)'] + \
        adapt_iters * med['DA adaptation (2 + 2)']
    lines += [
        '', f'`{DA_CONFIG}`: {warmup_iters} warmup x '
        f'{med["DA warmup (2 + 2)"]:.3f} s + {adapt_iters} adaptation x '
        f'{med["DA adaptation (2 + 2)"]:.3f} s = {train_s / 60:.1f} min of '
        f'training (= {train_s / base:.0f} no-mix iterations), plus the '
        'evaluation of teacher and student'
    ]
    return '\n'.join(lines), rows


def bench_pipeline(args):
    """LossMixPair vs mmdet MixUp per sample, same images, interleaved."""
    init_default_scope('mmdet')
    cfg = load_cfg(VARIANTS['lossmix (pair)'][0], args.data_root)
    wrapper = copy.deepcopy(cfg.train_dataloader.dataset)
    scale = cfg.get('img_scale', (192, 192))
    pipelines = {
        'LossMixPair':
        [dict(type='LossMixPair'),
         dict(type='PackLossMixInputs')],
        'mmdet MixUp':
        [dict(type='MixUp', img_scale=scale),
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
    """Memory of this process: after building the variant, and its peak
    over the training iterations (RSS sampled after each loading and each
    step; on cuda the allocator's peak)."""
    proc = psutil.Process()
    label, config, _ = MODEL_VARIANTS[args.model][args.variant]
    trainer = Trainer(
        config, args.data_root, model=args.model, device=args.device)
    if args.device == 'cuda':
        torch.cuda.synchronize()
        built = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        built = proc.memory_info().rss
    peak = built
    for _ in range(args.warmup + args.iters):
        batch = next(trainer.data)
        peak = max(peak, proc.memory_info().rss)
        trainer.model.train_step(batch, trainer.optim)
        peak = max(peak, proc.memory_info().rss)
    if args.device == 'cuda':
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    print(
        json.dumps(
            dict(
                built_mib=built / 2**20,
                peak_mib=peak / 2**20,
                maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss /
                1024)))


def bench_memory(args, keys):
    peaks = {}
    for key in keys:
        proc = subprocess.run([
            sys.executable, __file__, '--variant', key, '--model', args.model,
            '--device', args.device, '--iters',
            str(args.iters), '--warmup',
            str(args.warmup), '--data-root', args.data_root
        ],
                              capture_output=True,
                              text=True,
                              check=True)
        mem = json.loads(proc.stdout.strip().splitlines()[-1])
        label = MODEL_VARIANTS[args.model][key][0]
        peaks[label] = mem['peak_mib'] - mem['built_mib']
        print(f'memory: {label} {mem}', flush=True)
    return peaks


def bench_breakdown(args, keys):
    """Stage times and counts (see ``tools/benchmark_breakdown.py``); on
    the CPU the times are this process's CPU time, which the load of other
    processes barely changes (wall time on cuda)."""
    trainers = build_trainers(args, keys)
    timer = time.process_time if args.device == 'cpu' else time.perf_counter
    for trainer in trainers.values():
        if not benchmark_breakdown.is_two_stage(trainer):
            raise ValueError('--breakdown needs a two-stage detector')
        trainer.timer = timer
        benchmark_breakdown.instrument(
            trainer, timer, sync=lambda: synchronize(args.device))
    benchmark_breakdown.run_breakdown(trainers, args.warmup, args.iters)
    return '\n'.join(
        header(args) + ['', benchmark_breakdown.breakdown_table(trainers)])


def fmt_goal(ratio, goal):
    if goal is None:
        return '-'
    return f'<= {goal:.2f} ({"met" if ratio <= goal else "MISSED"})'


def iteration_tables(args, rows, inbatch, pipe, peaks, cpu_ratios=None):
    """The markdown of the iteration table and of the other measures;
    with ``cpu_ratios`` (label -> CPU-time ratio over no-mix) a column of
    them and their goal."""
    mem_kind = 'GPU' if args.device == 'cuda' else 'training'
    cpu_head = ' CPU-time ratio | its goal |' if cpu_ratios else ''
    lines = header(args) + [
        '', '| variant | iteration (s, median) | of which data (s) | '
        f'ratio over no-mix | goal |{cpu_head} {mem_kind} memory (MiB) | '
        'memory ratio |', '|---|---|---|---|---|' +
        ('---|---|' if cpu_ratios else '') + '---|---|'
    ]
    base = rows[0][0]
    for name, t, data_t, ratio, goal in rows:
        if peaks:
            mem = (f'{peaks[name]:.0f} | '
                   f'{peaks[name] / max(peaks[base], 1e-9):.3f}')
        else:
            mem = '- | -'
        cpu = (f' {cpu_ratios[name]:.3f} | '
               f'{fmt_goal(cpu_ratios[name], goal)} |') if cpu_ratios else ''
        lines.append(f'| {name} | {t:.3f} | {data_t:.3f} | {ratio:.3f} | '
                     f'{fmt_goal(ratio, goal)} |{cpu} {mem} |')
    measures = []
    if pipe:
        pipe_ratio = pipe['LossMixPair'] / pipe['mmdet MixUp']
        measures.append(
            f'| per-sample pipeline, LossMixPair / mmdet MixUp | '
            f'{pipe["LossMixPair"] * 1e3:.2f} ms / '
            f'{pipe["mmdet MixUp"] * 1e3:.2f} ms = {pipe_ratio:.3f} | '
            f'{fmt_goal(pipe_ratio, 0.7)} |')
    if inbatch:
        aug, inbatch_iter = inbatch
        aug_ratio = aug / inbatch_iter
        measures.append(
            f'| in-batch mixing op / its iteration | {aug * 1e3:.2f} ms / '
            f'{inbatch_iter * 1e3:.0f} ms = {aug_ratio:.4f} | '
            f'{fmt_goal(aug_ratio, 0.01)} |')
    if measures:
        lines += ['', '| measure | value | goal |', '|---|---|---|'] + \
            measures
    return '\n'.join(lines)


def write_markdown(text, out):
    """Write the measured tables to ``out``; the hand-written reading of an
    existing ``out``, from its first ``## `` heading on, is kept below
    them."""
    kept = ''
    if osp.isfile(out):
        with open(out) as f:
            old = f.read()
        start = old.find('\n## ')
        if start >= 0:
            kept = '\n' + old[start:].lstrip('\n')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text + '\n' + kept)


def write_outputs(text, rows, out, title):
    """``out`` (markdown, see :func:`write_markdown`) and the figure beside
    it (same name, .png)."""
    write_markdown(text, out)
    # imported here: matplotlib is needed only when writing
    from plot_results import plot_benchmark
    png = osp.splitext(out)[0] + '.png'
    plot_benchmark(rows, png, title)
    print(f'wrote {out} and {png}')


def main(argv=None):
    args = parse_args(argv)
    if args.variant:
        return memory_probe(args)
    if not osp.isfile(osp.join(args.data_root, 'annotations/train.json')):
        generate_toy_data.generate(args.data_root)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    where = 'CPU' if args.device == 'cpu' else 'GPU'
    if args.da:
        text, plot_rows = bench_da(args)
        print('\n' + text)
        if args.out:
            write_outputs(
                text, plot_rows, args.out,
                f'toy domain adaptation: iteration time over '
                f'no-mix ({where})')
        return
    keys = selected_variants(args)
    if args.breakdown:
        text = bench_breakdown(args, keys)
        print('\n' + text)
        if args.out:
            write_markdown(text, args.out)
        return

    rows, inbatch, cpu_ratios = bench_iterations(args, keys)
    pipe = bench_pipeline(args) if args.model == 'toy' and \
        args.pipeline_samples > 0 else None
    peaks = None if args.no_memory else bench_memory(args, keys)
    text = iteration_tables(args, rows, inbatch, pipe, peaks, cpu_ratios)
    print('\n' + text)
    if args.out:
        plot_rows = [
            dict(variant=name, sec_per_iter=t, ratio=ratio, goal=goal)
            for name, t, _, ratio, goal in rows
        ]
        model = 'toy Faster R-CNN' if args.model == 'toy' else \
            'Faster R-CNN R50-FPN'
        write_outputs(
            text, plot_rows, args.out,
            f'{model}: training-iteration time over no-mix '
            f'({where}, median of {args.iters})')


if __name__ == '__main__':
    main()
