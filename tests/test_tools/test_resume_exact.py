"""A resumed run continues exactly (RandomStateHook, a default hook of every
config): on one process, the losses a run resumed from a middle checkpoint
logs, and the weights it ends with, are bitwise those of the uninterrupted
run, with

- pair mixing (LossMixPair), num_workers=0, validating at the checkpoint;
- in-batch mixing (BatchLossMix), 2 persistent workers, IterBasedTrainLoop;
- pair mixing with an EpochBasedTrainLoop, 2 non-persistent workers,
  resumed from an end-of-epoch checkpoint;
- the domain-adaptation teacher, resumed inside the warmup (the resumed run
  crosses the switch) and inside the adaptation phase.

A config without the hook still resumes, and its losses then differ from
the uninterrupted run's (what the hook fixes)."""
import glob
import itertools
import json
import os.path as osp
import sys

import pytest
import torch

from lossmix_mm.engine import mmengine_checkpoint_globals
from lossmix_test_utils import toy_config, toy_da_options, toy_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import train as train_tool  # noqa: E402

DA_CONFIG = glob.glob(
    osp.join(ROOT, 'configs', 'toy',
             'mixed-teacher_faster-rcnn_r18_fpn_lossmix_*_toy2clipart.py'))[0]
TIMING = ('time', 'data_time', 'eta', 'memory')
_RUNS = itertools.count()


def train(config, work_dir, opts, resume=None):
    """tools/train.py; the logged records by iteration, timings left out."""
    argv = [config, '--work-dir', work_dir]
    if resume:
        argv += ['--resume', resume]
    # a visualizer of its own: mmengine keeps one per name per process
    train_tool.main(argv + ['--cfg-options'] + opts +
                    [f'visualizer.name=resume_exact_{next(_RUNS)}'])
    path = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(path) as f:
        records = [json.loads(line) for line in f]
    return {
        r['iter']: {
            k: v
            for k, v in r.items() if k not in TIMING
        }
        for r in records if 'loss' in r
    }


def weights(path):
    with mmengine_checkpoint_globals():
        return torch.load(path)['state_dict']


def assert_same_weights(path_a, path_b):
    a, b = weights(path_a), weights(path_b)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def logging_options(max_iters, validate=False):
    """Log every iteration; validate (after every checkpoint) or not."""
    return [
        'default_hooks.logger.interval=1',
        'log_processor.window_size=1',  # raw values, not averages
        'train_cfg.val_interval=2'
        if validate else f'train_cfg.val_begin={max_iters + 1}',
    ]


def check_resumed(config, tmp_path, opts, checkpoint, last):
    """Train uninterrupted, resume from ``checkpoint`` (a file name in the
    work dir) in another work dir, compare the records after it and the
    weights of ``last``; return both runs' records."""
    whole = train(config, str(tmp_path / 'whole'), opts)
    resumed = train(
        config,
        str(tmp_path / 'resumed'),
        opts,
        resume=str(tmp_path / 'whole' / checkpoint))
    assert resumed, 'the resumed run trained'
    assert resumed == {i: whole[i] for i in resumed}
    assert_same_weights(tmp_path / 'whole' / last, tmp_path / 'resumed' / last)
    return whole, resumed


@pytest.mark.slow
def test_pair_mixing_resume_exact_and_without_hook(toy_root, tmp_path,
                                                   cfg_edits):
    """num_workers=0; validation right after the checkpoint's iteration
    (the hook keeps it from shifting the training's random numbers)."""
    opts = toy_options(toy_root, max_iters=4, interval=2) + \
        logging_options(4, validate=True)
    config = toy_config('lossmix')
    whole, resumed = check_resumed(config, tmp_path, opts, 'iter_2.pth',
                                   'iter_4.pth')
    assert sorted(resumed) == [3, 4]
    assert whole[3]['loss'] != whole[4]['loss']

    # without the hook: resumes (iterations 3 and 4), but draws otherwise
    cfg_edits.append(lambda cfg: cfg.default_hooks.pop('random_state'))
    plain = train(
        config,
        str(tmp_path / 'plain'),
        opts,
        resume=str(tmp_path / 'whole' / 'iter_2.pth'))
    assert sorted(plain) == [3, 4]
    assert plain[3]['lr'] == whole[3]['lr']
    assert plain[3]['loss'] != whole[3]['loss']


@pytest.mark.slow
def test_in_batch_mixing_resume_exact_with_workers(toy_root, tmp_path):
    """IterBasedTrainLoop, 2 persistent workers: the resumed workers
    replay the skipped batches and stand where the uninterrupted ones
    stood."""
    opts = toy_options(
        toy_root, max_iters=4, interval=2, nested=False,
        workers=2) + logging_options(4)
    check_resumed(
        toy_config('lossmix-inbatch'), tmp_path, opts, 'iter_2.pth',
        'iter_4.pth')


@pytest.mark.slow
def test_epoch_based_resume_exact_with_workers(toy_root, tmp_path, cfg_edits):
    """EpochBasedTrainLoop, 2 non-persistent workers (restarted with the
    same seeds every epoch), 3 iterations an epoch, resumed from the
    checkpoint of epoch 1."""

    def epoch_based(cfg):
        cfg.train_cfg = dict(
            type='EpochBasedTrainLoop', max_epochs=2, val_begin=3)
        cfg.train_dataloader.sampler = dict(
            type='DefaultSampler', shuffle=True)
        cfg.train_dataloader.persistent_workers = False
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=1, max_keep_ckpts=-1)

    cfg_edits.append(epoch_based)
    opts = toy_options(toy_root, max_iters=6, workers=2) + \
        logging_options(6)
    opts = [o for o in opts if not o.startswith('train_cfg.')]
    whole, resumed = check_resumed(
        toy_config('lossmix'), tmp_path, opts, 'epoch_1.pth', 'epoch_2.pth')
    assert sorted(whole) == [1, 2, 3, 4, 5, 6]
    assert sorted(resumed) == [4, 5, 6]


def da_options(source, target, max_iters, warmup):
    return toy_da_options(source, target, max_iters, warmup) + [
        'default_hooks.checkpoint.save_best=None'
    ] + logging_options(max_iters)


@pytest.mark.slow
def test_teacher_resume_exact(toy_root, toy_clipart_root, tmp_path):
    """Warmup: iterations 1-2, adaptation: 3-4. Resumed from iteration 1
    (the run crosses the switch) and from iteration 3."""
    opts = da_options(toy_root, toy_clipart_root, max_iters=4, warmup=2)
    whole, resumed = check_resumed(DA_CONFIG, tmp_path, opts, 'iter_1.pth',
                                   'iter_4.pth')
    assert sorted(resumed) == [2, 3, 4]
    assert whole[4]['mst_loss_cls'] > 0 and whole[4]['mtt_num_pseudo'] > 0
    adapt = train(
        DA_CONFIG,
        str(tmp_path / 'adapt'),
        opts,
        resume=str(tmp_path / 'whole' / 'iter_3.pth'))
    assert adapt == {4: whole[4]}
    assert_same_weights(tmp_path / 'whole' / 'iter_4.pth',
                        tmp_path / 'adapt' / 'iter_4.pth')
