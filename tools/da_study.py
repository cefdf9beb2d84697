"""Toy domain-adaptation benchmark: the rows of the paper's Table 4 x seeds.

    python tools/da_study.py [--rows source control at noise union lossmix
        oracle] [--seeds 0 1 2] [--target clipart] [--source-iters 1200]
        [--adapt-iters 800] [--eval-interval 200] [--jobs 2 --threads 1]
        [--probe] [--cfg-options k=v ...] [--results R.json] [--out T.md]

Rows (target AP50 on the generated target's held-out images, ``CocoMetric``):

- ``source``: the source-only toy config, ``--source-iters`` iterations on
  ``data/toy`` (the lr steps at the config's fractions of the run);
- ``control``: that model trained ``--adapt-iters`` more iterations on the
  source alone, with the teacher's lr schedule: what training longer gives;
  ``control - source`` below 0.01 is the test of a converged source model;
- ``at``: the mean teacher without mixing (mss and mtt unmixed, the
  discriminator: Adaptive Teacher's terms), from the source model;
- ``noise``: ``at`` plus the noise term throughout (the paper's Noise row);
- ``union`` / ``lossmix``: the LossMix teacher recipe, mixing in Union or
  LossMix mode;
- ``oracle``: the source-only config trained on the labelled target instead
  (the headroom).

Every adaptation row starts from the same ``source`` checkpoint of its seed
and trains ``--adapt-iters`` iterations (the first ``--warmup-iters``
warmup), evaluated
every ``--eval-interval`` (teacher and student). Finished runs are kept in
the results JSON, so an interrupted study continues where it stopped; the
table gives mean +- std over seeds and each row's per-seed difference to
``control``. ``--probe`` adds the detached domain probe to the teacher rows
(``probe_acc``, ``disc_acc``); the pseudo-box precision / recall of the toy
config's thresholds are logged in every teacher row.
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

TOY = osp.join(ROOT, 'configs', 'toy')
SOURCE_CONFIG = osp.join(
    TOY, 'faster-rcnn_r18_fpn_source-only_1xb4-1200it_toy2clipart.py')
TEACHER_CONFIGS = {
    'lossmix':
    'mixed-teacher_faster-rcnn_r18_fpn_lossmix_1xb2+2-200+600it_'
    'toy2clipart.py',
    'nomix':
    'mixed-teacher_faster-rcnn_r18_fpn_nomix_1xb2+2-200+600it_'
    'toy2clipart.py',
}
ROWS = ('source', 'control', 'at', 'noise', 'union', 'lossmix', 'oracle')
# row -> (teacher config, its extra options)
TEACHER_ROWS = {
    'at': ('nomix', []),
    'noise': ('nomix', [
        'model.semi_train_cfg.loss_weights.nst=1.0',
        'model.semi_train_cfg.nst_phases=[warmup,adapt]'
    ]),
    'union': ('lossmix', ['model.mixer.mode=union']),
    'lossmix': ('lossmix', []),
}
PROBE = [
    'model.domain_probe.type=ImageDomainDiscriminator',
    'model.domain_probe.in_channels=64', 'model.domain_probe.feat_channels=64',
    'model.domain_probe.loss_weight=1.0'
]
AP50 = 'coco/bbox_mAP_50'
DIAGNOSTICS = ('mtt_num_pseudo', 'probe_acc', 'disc_acc')
# the source-only config's lr steps and the teacher's, as run fractions
SOURCE_STEPS = (900 / 1200, 1125 / 1200)
ADAPT_STEP = 650 / 800
ADAPT_LR = 0.01


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', nargs='+', default=list(ROWS), choices=ROWS)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--target',
        default='clipart',
        choices=sorted(set(generate_toy_data.STYLES) - {'source'}),
        help='the target style (data/toy_{target}, generator seed 1)')
    parser.add_argument('--source-iters', type=int, default=1200)
    parser.add_argument('--adapt-iters', type=int, default=800)
    parser.add_argument(
        '--warmup-iters',
        type=int,
        default=200,
        help='the teacher rows\' warmup (source terms only) within '
        '--adapt-iters')
    parser.add_argument('--eval-interval', type=int, default=200)
    parser.add_argument('--jobs', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--probe', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data'))
    parser.add_argument('--work-root')
    parser.add_argument('--results')
    parser.add_argument('--out', help='write the table here (markdown)')
    args = parser.parse_args(argv)
    if not 0 < args.warmup_iters < args.adapt_iters:
        parser.error('--warmup-iters must be in (0, --adapt-iters), got '
                     f'{args.warmup_iters} of {args.adapt_iters}')
    if min(args.source_iters, args.eval_interval) < 1:
        parser.error('--source-iters and --eval-interval must be >= 1')
    if args.work_root is None:
        args.work_root = osp.join(
            ROOT, 'work_dirs', 'da_study', f'{args.target}_s'
            f'{args.source_iters}_a{args.adapt_iters}')
    args.results = args.results or osp.join(args.work_root, 'results.json')
    return args


def data_options(source: str, target: str, teacher: bool) -> list:
    """Train on ``source`` (and ``target`` unlabelled for a teacher),
    evaluate on ``target``'s held-out images."""
    train = ['train_dataloader.dataset.datasets.0.data_root=' + source,
             'train_dataloader.dataset.datasets.1.data_root=' + target] \
        if teacher else ['train_dataloader.dataset.data_root=' + source]
    return train + [
        'val_dataloader.dataset.data_root=' + target,
        'test_dataloader.dataset.data_root=' + target,
        f'val_evaluator.ann_file={target}annotations/val.json',
        f'test_evaluator.ann_file={target}annotations/val.json'
    ]


def schedule(iters: int, steps, eval_interval: int) -> list:
    """Options of an ``iters``-iteration run, lr steps at ``steps``
    (fractions), evaluated every ``eval_interval`` and saved at the end."""
    milestones = ','.join(str(round(s * iters)) for s in steps)
    return [
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={min(eval_interval, iters)}',
        f'param_scheduler.1.milestones=[{milestones}]',
        f'param_scheduler.1.end={iters}',
        f'default_hooks.checkpoint.interval={iters}'
    ]


def run_spec(row: str, seed: int, args, source_ckpt: str) -> tuple:
    """(config, options) of one run."""
    source = osp.join(args.data_root, 'toy') + '/'
    target = osp.join(args.data_root, f'toy_{args.target}') + '/'
    seed_opt = [f'randomness.seed={seed}']
    if row in ('source', 'oracle'):
        train = target if row == 'oracle' else source
        return SOURCE_CONFIG, seed_opt + data_options(
            train, target, False) + schedule(args.source_iters, SOURCE_STEPS,
                                             args.eval_interval)
    resume = [f'load_from={source_ckpt}']
    adapt = schedule(args.adapt_iters, (ADAPT_STEP, ), args.eval_interval)
    if row == 'control':
        return SOURCE_CONFIG, seed_opt + resume + data_options(
            source, target,
            False) + adapt + [f'optim_wrapper.optimizer.lr={ADAPT_LR}']
    teacher, extra = TEACHER_ROWS[row]
    warmup = [f'custom_hooks.0.warmup_iters={args.warmup_iters}']
    return osp.join(TOY, TEACHER_CONFIGS[teacher]), seed_opt + resume + \
        data_options(source, target, True) + adapt + warmup + extra + \
        (PROBE if args.probe else [])


def read_log(work_dir: str, interval: int, iters: int) -> dict:
    """The evaluations and the diagnostics of a run's ``scalars.json``:
    each logged ``pseudo_*`` value and ``DIAGNOSTICS`` averaged over the
    iterations logged before each evaluation.

    Args:
        work_dir (str): the run's work dir.
        interval (int): its evaluation interval (the logged evaluations
            carry no iteration: evaluation k is at min(k * interval, iters)).
        iters (int): its iterations.

    Returns:
        dict: ``evals`` and ``diagnostics``, one dict per evaluation with
        its ``step``.
    """
    path = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    evals, diags, window = [], [], {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if any(k.endswith(AP50) for k in record):
                step = min((len(evals) + 1) * interval, iters)
                evals.append({
                    k: v
                    for k, v in record.items() if k.endswith(AP50)
                } | dict(step=step))
                diags.append({
                    k: statistics.mean(v)
                    for k, v in window.items()
                } | dict(step=step))
                window = {}
                continue
            for key, value in record.items():
                if key.startswith('pseudo_') or key in DIAGNOSTICS:
                    window.setdefault(key, []).append(value)
    return dict(evals=evals, diagnostics=diags)


def final_ap50(evals: list) -> dict:
    """The last evaluation's AP50: ``teacher`` / ``student`` for a
    teacher, else ``model``."""
    last = evals[-1]
    if f'teacher/{AP50}' in last:
        return dict(
            teacher=last[f'teacher/{AP50}'], student=last[f'student/{AP50}'])
    return dict(model=last[AP50])


def run_one(row: str, seed: int, args, results: dict, lock) -> None:
    """Train and evaluate one row of one seed (kept if already done)."""
    key = f'{row}/seed{seed}'
    if key in results:
        return
    work_dir = osp.join(args.work_root, row, f'seed{seed}')
    source_ckpt = osp.join(args.work_root, 'source', f'seed{seed}',
                           f'iter_{args.source_iters}.pth')
    config, options = run_spec(row, seed, args, source_ckpt)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.time()
    subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
            work_dir, '--cfg-options'
        ] + options + args.cfg_options,
        check=True,
        stdout=subprocess.DEVNULL,
        env=env)
    iters = args.source_iters if row in ('source', 'oracle') else \
        args.adapt_iters
    log = read_log(work_dir, min(args.eval_interval, iters), iters)
    with lock:
        results[key] = dict(
            final=final_ap50(log['evals']),
            train_s=time.time() - start,
            threads=args.threads,
            config=osp.relpath(config, ROOT),
            options=options + args.cfg_options,
            **log)
        with open(args.results, 'w') as f:
            json.dump(results, f, indent=1)
    print(f'{key}: {results[key]["final"]}', flush=True)


def best_ap50(final: dict) -> float:
    """A run's target AP50: the better of teacher and student (the paper
    keeps the better of the two), or the model's."""
    return max(final.values())


def table(args, results: dict) -> str:
    """Mean +- std target AP50 of each row and the per-seed difference to
    ``control``."""
    lines = [
        '| row | target AP50 (best of teacher / student) | seeds | '
        '- control, per seed |', '|---|---|---|---|'
    ]
    for row in args.rows:
        values = {
            s: best_ap50(results[f'{row}/seed{s}']['final'])
            for s in args.seeds if f'{row}/seed{s}' in results
        }
        if not values:
            continue
        mean = statistics.mean(values.values())
        std = statistics.stdev(values.values()) if len(values) > 1 else 0.0
        diffs = [
            f'{v - best_ap50(results[f"control/seed{s}"]["final"]):+.3f}'
            for s, v in values.items() if f'control/seed{s}' in results
        ]
        lines.append(f'| {row} | {mean:.3f} +- {std:.3f} | ' +
                     ', '.join(f'{v:.3f}' for v in values.values()) +
                     f' | {", ".join(diffs) or "-"} |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    for name, seed, style in (('toy', 0, 'source'), (f'toy_{args.target}', 1,
                                                     args.target)):
        root = osp.join(args.data_root, name)
        if not osp.isfile(osp.join(root, 'annotations', 'val.json')):
            generate_toy_data.generate(root, seed=seed, style=style)
    os.makedirs(args.work_root, exist_ok=True)
    results = {}
    if osp.isfile(args.results):
        with open(args.results) as f:
            results = json.load(f)
    lock = threading.Lock()
    first = [r for r in args.rows if r in ('source', 'oracle')]
    later = [r for r in args.rows if r not in first]
    with ThreadPoolExecutor(args.jobs) as pool:
        for stage in (first, later):  # every seed's source model first
            runs = [(r, s) for s in args.seeds for r in stage]
            for future in [
                    pool.submit(run_one, r, s, args, results, lock)
                    for r, s in runs
            ]:
                future.result()
    text = table(args, results)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return results


if __name__ == '__main__':
    main()
