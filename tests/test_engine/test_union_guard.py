"""No silent Union: LossMix weights fed to a detector whose heads ignore
them fail the first training iteration, under tools/train.py and mim."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.optim import OptimWrapper

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from lossmix_mm.engine import LossMixWeightsIgnoredError
from lossmix_mm.engine.union_guard import (reads_loss_weights,
                                           suggested_heads,
                                           weights_other_than_one)
from lossmix_test_utils import make_gts, toy_config
from lossmix_test_utils import toy_options as options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models'))
from test_detector_equivalence import batch, tiny_detector  # noqa: E402


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


register_all_modules()


def train_step(model, data):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    model.train()
    return model.train_step(copy.deepcopy(data), optim)


def test_stock_detector_with_lossmix_weights_fails(frcnn_cfg):
    model = tiny_detector(frcnn_cfg, lossmix=False)
    assert not reads_loss_weights(model)
    with pytest.raises(LossMixWeightsIgnoredError) as err:
        train_step(model, batch(([0.3, 0.7], [1.0])))
    message = str(err.value)
    assert '0.3' in message
    assert 'rpn_head: RPNHead -> LossMixRPNHead' in message
    assert 'roi_head: StandardRoIHead -> LossMixRoIHead' in message
    assert "section 'Supported detectors'" in message


@pytest.mark.parametrize('weights', [None, ([1.0, 1.0], [1.0])])
def test_stock_detector_without_weights_or_ones_trains(frcnn_cfg, weights):
    """Union data (all ones) and plain data are fine on stock heads."""
    model = tiny_detector(frcnn_cfg, lossmix=False)
    losses = train_step(model, batch(weights))
    assert torch.isfinite(losses['loss'])


def test_lossmix_detector_is_not_checked(frcnn_cfg):
    model = tiny_detector(frcnn_cfg, lossmix=True)
    assert reads_loss_weights(model)
    losses = train_step(model, batch(([0.3, 0.7], [1.0])))
    assert torch.isfinite(losses['loss'])


def test_one_reading_head_is_enough(frcnn_cfg):
    """'none of whose heads reads them': a LossMix RPN with a stock RoI
    head trains (the user asked for it)."""
    cfg = copy.deepcopy(frcnn_cfg)
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    cfg.rpn_head.type = 'LossMixRPNHead'
    model = MODELS.build(cfg)
    assert torch.isfinite(
        train_step(model, batch(([0.3, 0.7], [1.0])))['loss'])


def test_batch_lossmix_on_stock_detector_fails(frcnn_cfg):
    """In-batch mixing writes the weights inside the data preprocessor."""
    cfg = copy.deepcopy(frcnn_cfg)
    cfg.data_preprocessor.batch_augments = [
        dict(type='BatchLossMix', mode='lossmix', alpha=1.0)
    ]
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with pytest.raises(LossMixWeightsIgnoredError):
        train_step(model, batch(None))


def test_eval_mode_is_not_checked(frcnn_cfg):
    model = tiny_detector(frcnn_cfg, lossmix=False)
    model.eval()
    data = model.data_preprocessor(batch(([0.3, 0.7], [1.0])), False)
    with torch.no_grad():
        model(**data, mode='predict')


def test_weights_other_than_one():
    from mmdet.structures import DetDataSample
    samples = []
    for weights in ([1.0, 1.0], None, [1.0, 0.25]):
        sample = DetDataSample()
        sample.gt_instances = make_gts([[0, 0, 4, 4]] * 2, [0, 1], weights)
        samples.append(sample)
    assert weights_other_than_one(samples) == 0.25
    assert weights_other_than_one(samples[:2]) is None
    assert weights_other_than_one([]) is None


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


def _stock_options(toy_root, max_iters=1):
    # the toy LossMix config with the stock heads a user might forget to swap
    return options(toy_root, max_iters=max_iters) + [
        'model.rpn_head.type=RPNHead', 'model.roi_head.type=StandardRoIHead'
    ]


def test_tools_train_fails_on_stock_retinanet(toy_root, tmp_path):
    """A stock RetinaNet fed LossMixPair data (the toy RetinaNet LossMix
    config with the head type a user might forget to swap)."""
    config = toy_config('lossmix').replace(
        'faster-rcnn_r18_fpn_lossmix', 'retinanet_r18_fpn_lossmix')
    assert osp.isfile(config)
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/train.py'), config,
         '--work-dir', str(tmp_path), '--cfg-options'] +
        options(toy_root, max_iters=1) + ['model.bbox_head.type=RetinaHead'],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixWeightsIgnoredError' in log
    assert 'bbox_head: RetinaHead -> LossMixRetinaHead' in log
    assert not osp.isfile(osp.join(tmp_path, 'iter_1.pth'))


def test_tools_train_runs_lossmix_retinanet(toy_root, tmp_path):
    """The same config with its LossMix head trains (no false alarm)."""
    config = toy_config('lossmix').replace(
        'faster-rcnn_r18_fpn_lossmix', 'retinanet_r18_fpn_lossmix')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/train.py'), config,
         '--work-dir', str(tmp_path), '--cfg-options'] +
        options(toy_root, max_iters=1) + ['train_cfg.val_interval=100'],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert osp.isfile(osp.join(tmp_path, 'iter_1.pth'))


def test_mim_train_fails_on_stock_heads(toy_root, tmp_path):
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed (tools/setup_cpu.sh does it)')
    proc = subprocess.run(
        [mim, 'train', 'mmdet', toy_config('lossmix'), '--work-dir',
         str(tmp_path), '--cfg-options'] + _stock_options(toy_root),
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixWeightsIgnoredError' in log
    assert 'roi_head: StandardRoIHead -> LossMixRoIHead' in log
