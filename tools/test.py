"""Evaluate a checkpoint with an mmdet / lossmix_mm config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
                         [--out results.pkl] [--cfg-options key=value ...]
    bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [same options]

Metrics (``CocoMetric`` / ``VOCMetric`` of the config's test_evaluator) are
printed and written to ``<work_dir>/<timestamp>/<timestamp>.json``.
The checkpoint loads through ``LossMixRunner`` (unless the config names
another ``runner_type``): ``weights_only=True`` with only the globals of
mmengine's own checkpoints allowed.
"""
import argparse

from mmengine.config import DictAction

import lossmix_mm  # noqa: F401
from lossmix_mm.engine.launch import build_runner, load_cfg


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a '
                                     'detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test log goes')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_cfg(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        evaluators = cfg.test_evaluator if isinstance(
            cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpDetResults', out_file_path=args.out)
        ]
    return build_runner(cfg).test()


if __name__ == '__main__':
    main()
