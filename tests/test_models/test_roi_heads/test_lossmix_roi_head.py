import copy

import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from lossmix_test_utils import make_gts, rand_feats

GT_BOXES = [[4, 4, 30, 36], [30, 20, 60, 50]]


def build(frcnn_cfg, type_, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    cfg.update(type=type_, train_cfg=frcnn_cfg.train_cfg.rcnn,
               test_cfg=frcnn_cfg.test_cfg.rcnn, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def proposals(seed=0, num=60):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=g) * 40
    wh = torch.rand(num, 2, generator=g) * 24 + 4
    return InstanceData(
        bboxes=torch.cat([xy, (xy + wh).clamp(max=64)], dim=1),
        scores=torch.rand(num, generator=g))


def losses(head, gts, seed=0):
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64)))
    sample.gt_instances = gts
    feats = rand_feats(seed, strides=(4, 8, 16, 32))
    torch.manual_seed(1)  # RandomSampler
    out = head.loss(feats, [proposals(seed)], [sample])
    return {k: v.item() for k, v in out.items()}


@pytest.mark.parametrize('weights', [None, [1.0, 1.0]])
def test_equals_stock_roi_head(frcnn_cfg, weights):
    ref = losses(build(frcnn_cfg, 'StandardRoIHead'),
                 make_gts(GT_BOXES, [0, 2]))
    got = losses(build(frcnn_cfg, 'LossMixRoIHead'),
                 make_gts(GT_BOXES, [0, 2], weights))
    assert got == ref  # exactly
    assert ref['loss_bbox'] > 0


def test_single_gt_weight_scales_regression_exactly(frcnn_cfg):
    head = build(frcnn_cfg, 'LossMixRoIHead')
    ref = losses(head, make_gts(GT_BOXES[:1], [1]))
    got = losses(head, make_gts(GT_BOXES[:1], [1], [0.3]))
    assert got['loss_bbox'] == pytest.approx(0.3 * ref['loss_bbox'], rel=1e-6)
    assert got['loss_cls'] < ref['loss_cls']
    assert got['acc'] == ref['acc']


def test_loss_is_linear_in_each_gt_weight(frcnn_cfg):
    """loss(w0, w1) = L_neg + w0 * L_0 + w1 * L_1 with fixed normalisers.

    L_0 and L_1 are read off two runs with one weight halved; the loss at
    (0.2, 0.7) must follow. A changed normaliser would break it.
    """
    head = build(frcnn_cfg, 'LossMixRoIHead')

    def f(w0, w1):
        return losses(head, make_gts(GT_BOXES, [0, 2], [w0, w1]))

    full, half0, half1, target = f(1, 1), f(0.5, 1), f(1, 0.5), f(0.2, 0.7)
    for key in ('loss_cls', 'loss_bbox'):
        part0 = 2 * (full[key] - half0[key])
        part1 = 2 * (full[key] - half1[key])
        assert part0 > 0 and part1 > 0
        expected = full[key] - 0.8 * part0 - 0.3 * part1
        assert target[key] == pytest.approx(expected, rel=1e-5)


def test_mix_flags(frcnn_cfg):
    ref = losses(build(frcnn_cfg, 'StandardRoIHead'),
                 make_gts(GT_BOXES, [0, 2]))
    gts = make_gts(GT_BOXES, [0, 2], [0.3, 0.6])
    no_reg = losses(build(frcnn_cfg, 'LossMixRoIHead', mix_reg=False), gts)
    assert no_reg['loss_bbox'] == ref['loss_bbox']
    assert no_reg['loss_cls'] < ref['loss_cls']
    no_cls = losses(build(frcnn_cfg, 'LossMixRoIHead', mix_cls=False), gts)
    assert no_cls['loss_cls'] == ref['loss_cls']
    assert no_cls['loss_bbox'] < ref['loss_bbox']


def test_empty_gts_and_zero_weight(frcnn_cfg):
    ref = losses(build(frcnn_cfg, 'StandardRoIHead'), make_gts([], []))
    got = losses(build(frcnn_cfg, 'LossMixRoIHead'), make_gts([], [], []))
    assert got == ref and got['loss_bbox'] == 0
    with pytest.raises(ValueError, match='> 0'):
        losses(build(frcnn_cfg, 'LossMixRoIHead'),
               make_gts(GT_BOXES, [0, 2], [0.0, 1.0]))
