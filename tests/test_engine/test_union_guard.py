"""No silent Union: LossMix weights fed to a detector whose heads ignore
them fail the training (UnionGuardHook, which LossMixRunner adds), under
tools/train.py and mim; importing lossmix_mm changes nothing global."""
import copy
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules

from lossmix_mm.engine import LossMixWeightsIgnoredError, UnionGuardHook
from lossmix_mm.engine.union_guard import (batch_samples, reads_loss_weights,
                                           suggested_heads,
                                           weights_other_than_one)
from lossmix_test_utils import make_gts, toy_config
from lossmix_test_utils import toy_options as options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))
from test_detector_equivalence import batch, tiny_detector  # noqa: E402

register_all_modules()


@pytest.fixture(scope='module')
def frcnn_cfg():
    """mmdet's Faster R-CNN R50-FPN settings with tiny channels."""
    from mmengine.hub import get_config
    model = copy.deepcopy(
        get_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py').model)
    model.rpn_head.update(in_channels=8, feat_channels=8)
    model.roi_head.bbox_roi_extractor.out_channels = 8
    model.roi_head.bbox_head.update(
        in_channels=8, fc_out_channels=16, num_classes=3)
    return model


def guard_run(model, data_batch):
    """UnionGuardHook's training calls on a runner holding ``model``."""
    runner = SimpleNamespace(model=model)
    hook = UnionGuardHook()
    hook.before_train(runner)
    hook.before_train_iter(runner, 0, data_batch)
    return hook


def test_stock_detector_with_lossmix_weights_fails(frcnn_cfg):
    model = tiny_detector(frcnn_cfg, lossmix=False)
    assert not reads_loss_weights(model)
    with pytest.raises(LossMixWeightsIgnoredError) as err:
        guard_run(model, batch(([0.3, 0.7], [1.0])))
    message = str(err.value)
    assert '0.3' in message
    assert 'rpn_head: RPNHead -> LossMixRPNHead' in message
    assert 'roi_head: StandardRoIHead -> LossMixRoIHead' in message
    assert "section 'Supported detectors'" in message


@pytest.mark.parametrize('weights', [None, ([1.0, 1.0], [1.0])])
def test_stock_detector_without_weights_or_ones_trains(frcnn_cfg, weights):
    """Union data (all ones) and plain data are fine on stock heads."""
    model = tiny_detector(frcnn_cfg, lossmix=False)
    hook = guard_run(model, batch(weights))
    assert hook.model_reads is False  # scanned, nothing found


def test_lossmix_detector_is_not_checked(frcnn_cfg, monkeypatch):
    model = tiny_detector(frcnn_cfg, lossmix=True)
    assert reads_loss_weights(model)
    scanned = []
    monkeypatch.setattr(
        'lossmix_mm.engine.hooks.union_guard_hook.'
        'batch_samples', scanned.append)
    hook = guard_run(model, batch(([0.3, 0.7], [1.0])))
    assert hook.model_reads is True and scanned == []


def test_one_reading_head_is_enough(frcnn_cfg):
    """'none of whose heads reads them': a LossMix RPN with a stock RoI
    head trains (the user asked for it)."""
    cfg = copy.deepcopy(frcnn_cfg)
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    cfg.rpn_head.type = 'LossMixRPNHead'
    hook = guard_run(MODELS.build(cfg), batch(([0.3, 0.7], [1.0])))
    assert hook.model_reads is True


def _batch_lossmix_detector(frcnn_cfg, mode):
    cfg = copy.deepcopy(frcnn_cfg)
    cfg.data_preprocessor.batch_augments = [
        dict(type='BatchLossMix', mode=mode, alpha=1.0)
    ]
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    return MODELS.build(cfg)


def test_batch_lossmix_on_stock_detector_fails(frcnn_cfg):
    """In-batch mixing writes the weights inside the data preprocessor:
    caught before the first iteration."""
    model = _batch_lossmix_detector(frcnn_cfg, 'lossmix')
    with pytest.raises(LossMixWeightsIgnoredError) as err:
        UnionGuardHook().before_train(SimpleNamespace(model=model))
    assert "BatchLossMix (mode 'lossmix')" in str(err.value)
    assert 'rpn_head: RPNHead -> LossMixRPNHead' in str(err.value)


@pytest.mark.parametrize('mode', ['union', 'noise'])
def test_batch_union_or_noise_on_stock_detector_passes(frcnn_cfg, mode):
    """A union / noise BatchLossMix (weights of 1) on stock heads is not
    refused at before_train."""
    model = _batch_lossmix_detector(frcnn_cfg, mode)
    assert guard_run(model, batch(None)).model_reads is False


def test_eval_mode_is_not_checked(frcnn_cfg):
    """Nothing watches inference: no module hooks anywhere."""
    model = tiny_detector(frcnn_cfg, lossmix=False)
    model.eval()
    data = model.data_preprocessor(batch(([0.3, 0.7], [1.0])), False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2


def test_weights_other_than_one():
    samples = []
    for weights in ([1.0, 1.0], None, [1.0, 0.25]):
        sample = DetDataSample()
        sample.gt_instances = make_gts([[0, 0, 4, 4]] * 2, [0, 1], weights)
        samples.append(sample)
    assert weights_other_than_one(samples) == 0.25
    assert weights_other_than_one(samples[:2]) is None
    assert weights_other_than_one([]) is None


def test_batch_samples_of_plain_and_branched_batches():
    a, b, c = DetDataSample(), DetDataSample(), DetDataSample()
    assert batch_samples(dict(inputs=[], data_samples=[a, b])) == [a, b]
    branched = dict(data_samples=dict(sup=[a], unsup_student=[b, c]))
    assert batch_samples(branched) == [a, b, c]
    assert batch_samples(None) == [] and batch_samples([a]) == []


def test_suggested_heads(frcnn_cfg):
    model = tiny_detector(frcnn_cfg, lossmix=False)
    assert suggested_heads(model) == [
        'rpn_head: RPNHead -> LossMixRPNHead',
        'roi_head: StandardRoIHead -> LossMixRoIHead'
    ]


def test_suggested_heads_for_a_head_without_lossmix_subclass():
    """A top-level head with no LossMix subclass is named as such."""
    model = torch.nn.Module()
    model.bbox_head = torch.nn.Linear(2, 2)
    assert suggested_heads(model) == [
        "bbox_head: Linear (no LossMix head yet: see 'Add LossMix to your "
        "own detector')"
    ]


def _stock_options(toy_root, max_iters=1, nested=True):
    # the toy LossMix config with the stock heads a user might forget to swap
    return options(
        toy_root, max_iters=max_iters, nested=nested
    ) + ['model.rpn_head.type=RPNHead', 'model.roi_head.type=StandardRoIHead']


def _train(config, work_dir, opts):
    return subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools/train.py'), config, '--work-dir',
            str(work_dir), '--cfg-options'
        ] + opts,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600)


@pytest.mark.slow
def test_tools_train_fails_on_stock_retinanet(toy_root, tmp_path):
    """A stock RetinaNet fed LossMixPair data (the toy RetinaNet LossMix
    config with the head type a user might forget to swap)."""
    config = toy_config('lossmix').replace('faster-rcnn_r18_fpn_lossmix',
                                           'retinanet_r18_fpn_lossmix')
    assert osp.isfile(config)
    proc = _train(
        config, tmp_path,
        options(toy_root, max_iters=1) + ['model.bbox_head.type=RetinaHead'])
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixWeightsIgnoredError' in log
    assert 'bbox_head: RetinaHead -> LossMixRetinaHead' in log
    assert not osp.isfile(osp.join(tmp_path, 'iter_1.pth'))


@pytest.mark.slow
def test_tools_train_fails_on_stock_heads_behind_batch_lossmix(
        toy_root, tmp_path):
    """The toy in-batch config (BatchLossMix) with stock heads."""
    proc = _train(
        toy_config('lossmix-inbatch'), tmp_path,
        _stock_options(toy_root, nested=False))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixWeightsIgnoredError' in log
    assert "BatchLossMix (mode 'lossmix')" in log
    assert 'roi_head: StandardRoIHead -> LossMixRoIHead' in log
    assert not osp.isfile(osp.join(tmp_path, 'iter_1.pth'))


@pytest.mark.slow
def test_tools_train_runs_lossmix_retinanet(toy_root, tmp_path):
    """The same config with its LossMix head trains (no false alarm)."""
    config = toy_config('lossmix').replace('faster-rcnn_r18_fpn_lossmix',
                                           'retinanet_r18_fpn_lossmix')
    proc = _train(
        config, tmp_path,
        options(toy_root, max_iters=1) + ['train_cfg.val_interval=100'])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert osp.isfile(osp.join(tmp_path, 'iter_1.pth'))


def test_runner_adds_the_guard_once(tmp_path):
    """LossMixRunner adds UnionGuardHook; one listed in custom_hooks is not
    doubled."""
    from lossmix_mm.engine.launch import build_runner, load_cfg
    for custom in ([], [dict(type='UnionGuardHook')]):
        cfg = load_cfg(toy_config('lossmix'), work_dir=str(tmp_path))
        cfg.merge_from_dict(
            dict(
                custom_hooks=custom,
                visualizer=dict(name=f'guard_once_{len(custom)}')))
        runner = build_runner(cfg)
        assert type(runner).__name__ == 'LossMixRunner'
        guards = [h for h in runner.hooks if isinstance(h, UnionGuardHook)]
        assert len(guards) == 1


@pytest.mark.slow
def test_mim_train_fails_on_stock_heads(toy_root, tmp_path):
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed (tools/setup_cpu.sh does it)')
    proc = subprocess.run(
        [
            mim, 'train', 'mmdet',
            toy_config('lossmix'), '--work-dir',
            str(tmp_path), '--cfg-options'
        ] + _stock_options(toy_root),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixWeightsIgnoredError' in log
    assert 'roi_head: StandardRoIHead -> LossMixRoIHead' in log


IMPORT_CHANGES_NOTHING = '''
import torch
import torch.nn.modules.module as module
from mmengine.runner.checkpoint import CheckpointLoader


def snapshot():
    hooks = {name: dict(getattr(module, name)) for name in dir(module)
             if name.startswith('_global_') and name.endswith('hooks')}
    return (hooks, dict(CheckpointLoader._schemes),
            set(torch.serialization.get_safe_globals()))


before = snapshot()
assert before[0], 'torch keeps its global module hooks in _global_*hooks'
import lossmix_mm  # noqa: E402
after = snapshot()
assert after == before, (before, after)
print('unchanged', sorted(before[0]))
'''


@pytest.mark.slow
def test_import_changes_no_global_state():
    """torch's global module hooks, mmengine's checkpoint loaders and
    torch's safe globals are the same before and after the import."""
    proc = subprocess.run([sys.executable, '-c', IMPORT_CHANGES_NOTHING],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert '_global_forward_hooks' in proc.stdout
    assert '_global_forward_pre_hooks' in proc.stdout
