"""tools/train.py and tools/test.py end to end on a tiny toy dataset, with
resume on torch >= 2.6: LossMixRunner loads mmengine's checkpoints with
weights_only=True and only their own globals allowed."""
import copy
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from lossmix_mm.engine import mmengine_checkpoint_globals
from lossmix_test_utils import toy_config
from lossmix_test_utils import toy_options as options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import test as test_tool  # noqa: E402
import train as train_tool  # noqa: E402

CONFIG = toy_config('lossmix')
SEEN = {}


@HOOKS.register_module(force=True)
class RecordResumeHook(Hook):
    """Test hook: what the runner holds when training (re)starts."""

    def before_train(self, runner):
        SEEN['iter'] = runner.iter
        SEEN['optimizer'] = copy.deepcopy(
            runner.optim_wrapper.optimizer.state_dict())
        SEEN['lr'] = runner.optim_wrapper.get_lr()['lr'][0]
        SEEN['scheduler_last_step'] = runner.param_schedulers[0].last_step


@pytest.fixture
def record_hook(cfg_edits):
    cfg_edits.append(lambda cfg: setattr(cfg, 'custom_hooks',
                                         [dict(type='RecordResumeHook')]))


@pytest.mark.slow
def test_train_resume_and_test(toy_root, tmp_path, record_hook):
    work_dir = str(tmp_path / 'work')
    train_tool.main([CONFIG, '--work-dir', work_dir, '--cfg-options'] +
                    options(toy_root, max_iters=4))
    assert SEEN['iter'] == 0
    ckpt2 = osp.join(work_dir, 'iter_2.pth')
    ckpt4 = osp.join(work_dir, 'iter_4.pth')
    assert osp.isfile(ckpt2) and osp.isfile(ckpt4)

    # what torch >= 2.6 does to mmengine's own checkpoints without the
    # allowlist; with it they load
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(ckpt2)
    with mmengine_checkpoint_globals():
        saved = torch.load(ckpt2)

    # resume from iteration 2 (explicit path), train on to 4
    SEEN.clear()
    train_tool.main([
        CONFIG, '--work-dir',
        str(tmp_path / 'resumed'), '--resume', ckpt2, '--cfg-options'
    ] + options(toy_root, max_iters=4))
    assert SEEN['iter'] == 2 == saved['meta']['iter']
    # the config's RandomStateHook (tests/test_tools/test_resume_exact.py)
    assert sorted(
        saved['random_states']) == ['numpy', 'python', 'torch', 'world_size']
    assert SEEN['scheduler_last_step'] == saved['param_schedulers'][0][
        'last_step']
    state, ref = SEEN['optimizer'], saved['optimizer']
    assert ref['state'], 'momentum buffers exist after 2 SGD steps'
    assert state['state'].keys() == ref['state'].keys()
    for k in ref['state']:
        assert torch.equal(state['state'][k]['momentum_buffer'],
                           ref['state'][k]['momentum_buffer'])
    assert SEEN['lr'] == pytest.approx(ref['param_groups'][0]['lr'])
    with mmengine_checkpoint_globals():
        resumed = torch.load(osp.join(tmp_path, 'resumed', 'iter_4.pth'))
    assert resumed['meta']['iter'] == 4

    # --resume without a path: latest checkpoint of the work dir (iter 4),
    # then two more iterations
    SEEN.clear()
    train_tool.main(
        [CONFIG, '--work-dir', work_dir, '--resume', '--cfg-options'] +
        options(toy_root, max_iters=6))
    assert SEEN['iter'] == 4
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))

    metrics = test_tool.main([
        CONFIG,
        osp.join(work_dir, 'iter_6.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(tmp_path / 'dets.pkl'), '--cfg-options'
    ] + options(toy_root, max_iters=6))
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    with open(tmp_path / 'dets.pkl', 'rb') as f:
        assert len(pickle.load(f)) == 3  # one entry per val image


@pytest.mark.slow
def test_mim_train_resumes(toy_root, tmp_path):
    """`mim train mmdet <config>` (mmdet's own train.py) reaches lossmix_mm
    through custom_imports and builds the config's LossMixRunner, which
    resumes from mmengine's checkpoint (mmengine's Runner refuses it)."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed (tools/setup_cpu.sh does it)')
    work_dir = str(tmp_path / 'mim')
    opts = options(toy_root, max_iters=2)
    for extra in ([], ['--resume']):
        if extra:
            opts = [o.replace('max_iters=2', 'max_iters=3') for o in opts]
        proc = subprocess.run(
            [mim, 'train', 'mmdet', CONFIG, '--work-dir', work_dir] + extra +
            ['--cfg-options'] + opts,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in log
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))


@pytest.mark.slow
def test_dist_train_two_processes_on_cpu(toy_root, tmp_path):
    """tools/dist_train.sh (torchrun) with 2 processes, gloo, no GPU."""
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHON=sys.executable, PORT='29631')
    proc = subprocess.run(
        [
            'bash',
            osp.join(ROOT, 'tools/dist_train.sh'), CONFIG, '2', '--work-dir',
            work_dir, '--cfg-options'
        ] + options(toy_root, max_iters=2),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    assert 'coco/bbox_mAP' in log  # rank 0 gathered the evaluation
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))


@pytest.mark.slow
def test_run_cpu_default_script(toy_root, tmp_path):
    """README command one's script: train, test, say where things are."""
    work_dir = str(tmp_path / 'demo')
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        [
            'bash',
            osp.join(ROOT, 'tools/run_cpu_default.sh'), CONFIG, work_dir,
            '--cfg-options'
        ] + options(toy_root, max_iters=2),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    lines = dict(
        line.split(':', 1) for line in proc.stdout.splitlines()
        if line.startswith(('log:', 'checkpoint:', 'metrics:')))
    assert lines['checkpoint'].strip() == osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(lines['log'].strip())
    with open(lines['metrics'].strip()) as f:
        assert 'coco/bbox_mAP' in f.read()
