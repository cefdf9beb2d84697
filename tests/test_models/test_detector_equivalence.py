"""A whole Faster R-CNN with the LossMix heads against stock mmdet."""
import copy

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.datasets.transforms import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes


def tiny_detector(frcnn_cfg, lossmix):
    cfg = copy.deepcopy(frcnn_cfg)
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    if lossmix:
        cfg.rpn_head.type = 'LossMixRPNHead'
        cfg.roi_head.type = 'LossMixRoIHead'
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch(weights):
    rng = np.random.RandomState(0)
    samples = []
    for i, boxes in enumerate(([[4, 6, 40, 50], [30, 10, 60,
                                                 40]], [[10, 10, 50, 60]])):
        n = len(boxes)
        results = dict(
            img=rng.randint(0, 255, (64, 72, 3)).astype(np.float32),
            img_id=i,
            img_path=f'{i}.png',
            ori_shape=(64, 72),
            img_shape=(64, 72),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None,
            gt_bboxes=HorizontalBoxes(np.array(boxes, np.float32)),
            gt_bboxes_labels=np.arange(n, dtype=np.int64),
            gt_ignore_flags=np.zeros(n, dtype=bool))
        if weights is not None:
            results.update(
                gt_bboxes=LossMixBoxes(
                    np.array(boxes, np.float32),
                    loss_weights=np.array(weights[i], np.float32),
                    mix_group=np.arange(n, dtype=np.int64)),
                mix_lambda=float(weights[i][0]))
        samples.append(PackLossMixInputs()(results))
    return dict(
        inputs=[s['inputs'] for s in samples],
        data_samples=[s['data_samples'] for s in samples])


def losses(model, data):
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(1)
    out = model.loss(data['inputs'], data['data_samples'])
    return {
        k: (sum(v) if isinstance(v, list) else v).item()
        for k, v in out.items()
    }


@pytest.mark.parametrize('weights', [None, ([1.0, 1.0], [1.0])])
def test_faster_rcnn_equals_stock(frcnn_cfg, weights):
    ref = losses(tiny_detector(frcnn_cfg, False), batch(None))
    got = losses(tiny_detector(frcnn_cfg, True), batch(weights))
    assert got == ref
    # both stages really trained on positives
    assert ref['loss_rpn_bbox'] > 0 and ref['loss_bbox'] > 0


def gradients(model, data):
    """Every parameter's gradient of the summed losses of one batch."""
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(1)
    out = model.loss(data['inputs'], data['data_samples'])
    total = sum((sum(v) if isinstance(v, list) else v) for k, v in out.items()
                if k.startswith('loss'))
    total.backward()
    return {
        name: p.grad
        for name, p in model.named_parameters() if p.grad is not None
    }


def test_faster_rcnn_gradients_equal_stock(frcnn_cfg):
    """Unmixed data: every gradient equals stock mmdet's bit for bit, so a
    no-mix training with the LossMix heads follows stock mmdet's run."""
    ref = gradients(tiny_detector(frcnn_cfg, False), batch(None))
    got = gradients(tiny_detector(frcnn_cfg, True), batch(None))
    assert got.keys() == ref.keys() and len(ref) > 50
    assert [n for n in ref if not torch.equal(got[n], ref[n])] == []
    assert any(g.abs().sum() > 0 for g in ref.values())


def test_weights_reach_both_stages(frcnn_cfg):
    """All gts at weight w: both box-regression losses scale by exactly w."""
    model = tiny_detector(frcnn_cfg, True)
    ref = losses(model, batch(None))
    got = losses(model, batch(([0.35, 0.35], [0.35])))
    for key in ('loss_rpn_bbox', 'loss_bbox'):
        assert got[key] == pytest.approx(0.35 * ref[key], rel=1e-5)
    for key in ('loss_rpn_cls', 'loss_cls'):
        assert got[key] < ref[key]


def test_seeded_loss_regression(frcnn_cfg):
    """Loss values of a fixed seeded batch (guards unintended changes)."""
    model = tiny_detector(frcnn_cfg, True)
    got = losses(model, batch(([0.3, 0.7], [0.6])))
    expected = EXPECTED
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-4), key


# recorded on torch 2.13.0 (CPU), mmdet 3.3.0, mmcv 2.1.0
EXPECTED = {
    'loss_rpn_cls': 1.574263572692871,
    'loss_rpn_bbox': 0.09573600441217422,
    'loss_cls': 1.0145225524902344,
    'acc': 66.40625,
    'loss_bbox': 0.07541976124048233,
}
