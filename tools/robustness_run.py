"""Long toy trainings of every mixing variant, checked for NaN / inf losses.

    python tools/robustness_run.py [--iters 1000] [--variants ...] [--out FILE]

Trains the toy Faster R-CNN (``configs/toy/``) ``--iters`` iterations with
each mixing variant -- no-mix, LossMix pair, LossMix in-batch, LossMix exact
(pair), Union (pair) -- through the configs' runner (``LossMixRunner``,
their own pipelines, heads, optimizer and warmup; the LR steps scaled to
``--iters``; no validation, no checkpoint). A hook reads every iteration's
losses and stops the variant at the first value that is not finite; an
exception (one of lossmix_mm's checks, say) also ends only that variant.
Prints a table per variant: iterations done, time, first / last-50 mean / max
of the total loss, the mixed share of the samples (``mix_lambda`` < 1), and
the status. Exits with 1 if a variant did not finish cleanly. The toy data are
generated in ``data/toy`` if missing.
"""
import argparse
import math
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
import traceback

import torch
from mmengine.config import Config
from mmengine.hooks import Hook

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
from lossmix_mm.engine.launch import build_runner  # noqa: E402
import generate_toy_data  # noqa: E402

TOY = osp.join(ROOT, 'configs', 'toy')
VARIANTS = {
    'no-mix': 'faster-rcnn_r18_fpn_1xb4-800it_toy.py',
    'pair': 'faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py',
    'in-batch': 'faster-rcnn_r18_fpn_lossmix-inbatch_1xb4-800it_toy.py',
    'exact': 'faster-rcnn_r18_fpn_lossmix-exact_1xb4-800it_toy.py',
    'union': 'faster-rcnn_r18_fpn_union_1xb4-800it_toy.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--iters',
        type=int,
        default=1000,
        help='training iterations per variant')
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=list(VARIANTS),
        default=list(VARIANTS))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/toy'))
    parser.add_argument(
        '--threads',
        type=int,
        default=0,
        help='torch CPU threads (0: all cores)')
    parser.add_argument(
        '--workers',
        type=int,
        default=0,
        help='train loader workers (0: in the main process)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the table (markdown)')
    return parser.parse_args(argv)


class FiniteLossHook(Hook):
    """Record every iteration's losses; raise at the first non-finite one.

    Also counts the samples the data preprocessor hands to the model and
    those mixed (``mix_lambda`` < 1 in their metainfo: by the pipeline or
    by the preprocessor's batch augments).
    """
    priority = 'LOW'

    def __init__(self):
        self.totals = []
        self.samples = 0
        self.mixed = 0

    def before_run(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        model.data_preprocessor.register_forward_hook(self._count)

    def _count(self, module, args, output):
        for sample in output.get('data_samples') or []:
            self.samples += 1
            self.mixed += sample.metainfo.get('mix_lambda', 1.0) < 1.0

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        values = {k: float(v) for k, v in (outputs or {}).items()}
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            raise FloatingPointError(
                f'iteration {runner.iter + 1}: non-finite losses {bad} '
                f'(all: {values})')
        self.totals.append(values['loss'])


def build_cfg(variant, args, work_dir):
    cfg = Config.fromfile(osp.join(TOY, VARIANTS[variant]))
    dataset = cfg.train_dataloader.dataset
    inner = dataset.get('dataset', dataset)
    inner.data_root = args.data_root.rstrip('/') + '/'
    cfg.train_dataloader.num_workers = args.workers
    cfg.train_dataloader.persistent_workers = args.workers > 0
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed)
    iters = args.iters
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    # the configs' 800-iteration schedule, stretched to --iters
    scale = iters / cfg.max_iters
    for sched in cfg.param_scheduler:
        if sched.type == 'MultiStepLR':
            sched.end = iters
            sched.milestones = [
                max(1, int(m * scale)) for m in sched.milestones
            ]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=iters + 1, save_last=False)
    cfg.default_hooks.logger.interval = max(1, min(50, iters // 10))
    cfg.visualizer.name = f'robustness_{variant}_{time.time_ns()}'
    return cfg


def run_variant(variant, args):
    """Train one variant; (row of the table, finished cleanly)."""
    hook = FiniteLossHook()
    start = time.perf_counter()
    status = 'ok'
    with tempfile.TemporaryDirectory() as work_dir:
        try:
            runner = build_runner(build_cfg(variant, args, work_dir))
            runner.register_hook(hook)
            runner.train()
        except Exception as e:  # reported in the table, the others go on
            traceback.print_exc()
            status = f'FAILED: {type(e).__name__}: {e}'[:300]
    seconds = time.perf_counter() - start
    totals = hook.totals
    if status == 'ok' and len(totals) != args.iters:
        status = f'FAILED: {len(totals)} of {args.iters} iterations'
    row = dict(
        variant=variant,
        iters=len(totals),
        seconds=seconds,
        first=totals[0] if totals else math.nan,
        last=statistics.mean(totals[-50:]) if totals else math.nan,
        max=max(totals) if totals else math.nan,
        mixed=hook.mixed / hook.samples if hook.samples else math.nan,
        status=status)
    return row, status == 'ok'


def main(argv=None):
    args = parse_args(argv)
    generate_toy_data.generate(args.data_root)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    rows, ok = [], True
    for variant in args.variants:
        print(f'=== {variant}: {args.iters} iterations', flush=True)
        row, done = run_variant(variant, args)
        rows.append(row)
        ok &= done
    lines = [
        f'Run {time.strftime("%Y-%m-%d")} on {os.cpu_count()} CPU cores, '
        f'torch {torch.__version__}: `python tools/robustness_run.py '
        f'--iters {args.iters}`', '',
        '| variant | iterations | time (s) | loss: first | last 50 (mean) '
        '| max | mixed samples | status |', '|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        lines.append(f'| {r["variant"]} | {r["iters"]} | {r["seconds"]:.0f} | '
                     f'{r["first"]:.3f} | {r["last"]:.3f} | {r["max"]:.3f} | '
                     f'{r["mixed"]:.2f} | {r["status"]} |')
    text = '\n'.join(lines)
    print('\n' + text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
