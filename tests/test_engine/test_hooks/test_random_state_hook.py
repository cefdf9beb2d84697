"""RandomStateHook without a training run: the states round-trip (through a
``weights_only`` load too), the restore happens after the loop's
dataloader advance, validation is neutral, and nothing is restored for
``load_from``, several processes or a checkpoint without states."""
import ast
import glob
import io
import os.path as osp
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from lossmix_mm.engine.hooks import RandomStateHook, get_random_states
from lossmix_mm.engine.hooks import random_state_hook as hook_module
from lossmix_mm.engine.hooks import set_random_states
from lossmix_test_utils import base_files, top_level_value

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# the first draw of each generator after seeding it with 0
FIRST_PY = 0.8444218515250481  # random.seed(0); random.random()
FIRST_NP = 0.5488135039273248  # np.random.seed(0); np.random.rand()
FIRST_TORCH = 0.49625658988952637  # torch.manual_seed(0); torch.rand(1)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def draw():
    """One number from each generator."""
    return (random.random(), float(np.random.rand()), float(torch.rand(1)))


class Draws:
    """A stand-in for the loop's dataloader iterator: each batch is a draw,
    as the pipeline's random choices are with ``num_workers=0``."""

    def __init__(self):
        self._iterator = 'inner'

    def __iter__(self):
        return self

    def __next__(self):
        return draw()


def iter_runner(iteration):
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    loop._iter = iteration
    loop.dataloader_iterator = Draws()
    return SimpleNamespace(iter=iteration, train_loop=loop)


def saved_at(iteration, hook=None):
    """Seed 0, draw ``iteration`` batches, save a checkpoint (as the
    CheckpointHook does after the iteration), draw two more batches:
    the checkpoint and the batches that follow it."""
    hook = hook or RandomStateHook()
    seed_all(0)
    for _ in range(iteration):
        draw()
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    return checkpoint, [draw(), draw()]


def test_first_draws_and_round_trip():
    seed_all(0)
    states = get_random_states()
    assert draw() == (FIRST_PY, FIRST_NP, FIRST_TORCH)
    draw()
    set_random_states(states)
    assert draw() == (FIRST_PY, FIRST_NP, FIRST_TORCH)


def test_checkpoint_loads_with_weights_only():
    """Plain types and CPU tensors: no unpickling of numpy needed."""
    checkpoint, after = saved_at(3)
    assert checkpoint['random_states']['world_size'] == 1
    assert sorted(checkpoint['random_states']) == [
        'numpy', 'python', 'torch', 'world_size'
    ]
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    seed_all(5)
    set_random_states(loaded['random_states'])
    assert [draw(), draw()] == after


def test_iter_loop_restores_right_before_the_next_batch():
    checkpoint, after = saved_at(2)
    hook = RandomStateHook()
    seed_all(1)  # a resumed process: another state
    runner = iter_runner(2)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    loop = runner.train_loop
    inner = vars(loop.dataloader_iterator)['_inner']
    # what MixingScheduleHook does to restart workers reaches the iterator
    assert loop.dataloader_iterator._iterator == 'inner'
    loop.dataloader_iterator._iterator = 'restarted'
    assert inner._iterator == 'restarted'
    # IterBasedTrainLoop.run: advance `iter` steps, then train
    for _ in range(loop.iter):
        next(loop.dataloader_iterator)
    assert next(loop.dataloader_iterator) == after[0]
    assert loop.dataloader_iterator is inner  # unwrapped
    assert next(loop.dataloader_iterator) == after[1]


def test_epoch_loop_restores_before_the_epoch():
    checkpoint, after = saved_at(3)
    hook = RandomStateHook()
    seed_all(1)
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    runner = SimpleNamespace(iter=3, train_loop=loop)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    draw()  # before_train hooks may draw: overwritten
    hook.before_train_epoch(runner)
    assert [draw(), draw()] == after
    # only once: the next epoch draws on
    hook.before_train_epoch(runner)
    assert draw() != after[0]


def test_validation_is_neutral():
    seed_all(0)
    draw()
    without_val = draw()
    hook = RandomStateHook()
    seed_all(0)
    draw()
    hook.before_val(None)
    draw()  # the val loader's seed, the val pipeline...
    checkpoint = {}  # save_best during validation: the training's states
    hook.before_save_checkpoint(None, checkpoint)
    hook.after_val(None)
    assert draw() == without_val
    seed_all(3)
    set_random_states(checkpoint['random_states'])
    assert draw() == without_val


@pytest.mark.parametrize(
    'case',
    ['load_from', 'no_states', 'two_processes', 'saved_by_two_processes'])
def test_restores_nothing(case, monkeypatch):
    checkpoint, after = saved_at(2)
    iteration = 2
    if case == 'load_from':
        iteration = 0  # load_from: the run starts at iteration 0
    elif case == 'no_states':
        checkpoint = {}  # saved by a config without the hook
    elif case == 'two_processes':
        monkeypatch.setattr(hook_module, 'get_world_size', lambda: 2)
    else:
        checkpoint['random_states']['world_size'] = 2
    hook = RandomStateHook()
    seed_all(1)
    runner = iter_runner(iteration)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    assert isinstance(runner.train_loop.dataloader_iterator, Draws)
    seed_all(1)
    expected = draw()
    seed_all(1)
    assert next(runner.train_loop.dataloader_iterator) == expected


def test_cuda_states(monkeypatch):
    """Saved and restored per device, moved back to the CPU (a resumed
    checkpoint is mapped to the GPU); skipped with another device count."""
    cuda = torch.cuda
    restored = []
    monkeypatch.setattr(cuda, 'is_available', lambda: True)
    monkeypatch.setattr(cuda, 'get_rng_state_all',
                        lambda: [torch.tensor([1, 2], dtype=torch.uint8)])
    monkeypatch.setattr(cuda, 'set_rng_state_all', restored.extend)
    states = get_random_states()
    assert torch.equal(states['cuda'][0], torch.tensor([1, 2]).byte())
    monkeypatch.setattr(cuda, 'device_count', lambda: 1)
    set_random_states(states)
    assert len(restored) == 1 and restored[0].device.type == 'cpu'
    monkeypatch.setattr(cuda, 'device_count', lambda: 2)
    restored.clear()
    set_random_states(states)
    assert restored == []


@pytest.mark.slow
def test_every_config_has_the_hook():
    """Statically (parsing all configs is slow): a config that inherits no
    config of its own directory (a root: mmdet's configs and
    ``configs/_base_`` only) names the hook in its ``default_hooks``; no
    config drops inherited default hooks with ``_delete_``. Then the deepest
    configs of two trees parsed: the hook arrives through inheritance."""
    configs = [
        p for d in ('toy', 'lossmix', 'lossmix_da')
        for p in sorted(glob.glob(osp.join(REPO, 'configs', d, '*.py')))
    ]
    assert len(configs) > 90
    for path in glob.glob(osp.join(REPO, 'configs', '_base_', '*', '*.py')):
        node = top_level_value(path, 'default_hooks')
        assert node is None or '_delete_' not in ast.unparse(node), path
    roots = 0
    for path in configs:
        node = top_level_value(path, 'default_hooks')
        keywords = {k.arg: k.value for k in getattr(node, 'keywords', [])}
        assert '_delete_' not in keywords, path
        if not any(b.startswith('./') for b in base_files(path)):
            roots += 1
            hook = keywords.get('random_state')
            assert ast.unparse(hook) == "dict(type='RandomStateHook')", path
    assert roots == 36  # with the RTMDet, YOLOX and RTMDet-tiny region pairs
    for name in ('lossmix/faster-rcnn_r101_fpn_lossmix-pair_8xb8-18k_'
                 'voc0712.py', 'lossmix_da/mixed-teacher_faster-rcnn_r101-'
                 'caffe_c4_noise_4xb2+2-60k_voc0712-watercolor2k.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', name))
        assert cfg.default_hooks.random_state == dict(type='RandomStateHook')
