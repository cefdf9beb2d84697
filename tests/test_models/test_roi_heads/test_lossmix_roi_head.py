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


def pseudo_sampled(frcnn_cfg, type_, **kwargs):
    """A head that trains on every proposal: no randomness."""
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rcnn)
    train_cfg.sampler = dict(type='PseudoSampler')
    cfg.update(type=type_, train_cfg=train_cfg,
               test_cfg=frcnn_cfg.test_cfg.rcnn, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch_losses(head, gts_list, lam=None):
    samples = []
    for gts in gts_list:
        meta = dict(img_shape=(64, 64))
        if lam is not None:
            meta['mix_lambda'] = lam
        sample = DetDataSample(metainfo=meta)
        sample.gt_instances = gts
        samples.append(sample)
    n = len(gts_list)
    feats = [torch.cat(level) for level in zip(
        *[rand_feats(seed, strides=(4, 8, 16, 32)) for seed in range(n)])]
    out = head.loss(feats, [proposals(seed) for seed in range(n)], samples)
    return {k: v.item() for k, v in out.items()}


@pytest.mark.parametrize('num_imgs', [1, 2])
def test_exact_mode_is_eq14(frcnn_cfg, num_imgs):
    """exact: lam * stock(y_i) + (1 - lam) * stock(y_j), own gts group 0."""
    lam = 0.7
    own = make_gts(GT_BOXES[:1], [0])
    partner = make_gts(GT_BOXES[1:], [2])
    mixed = make_gts(GT_BOXES, [0, 2], [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    stock = pseudo_sampled(frcnn_cfg, 'StandardRoIHead')
    exact = pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True)
    ref_own = batch_losses(stock, [own] * num_imgs)
    ref_partner = batch_losses(stock, [partner] * num_imgs)
    got = batch_losses(exact, [mixed] * num_imgs, lam)
    for key in ('loss_cls', 'loss_bbox'):
        assert got[key] == pytest.approx(
            lam * ref_own[key] + (1 - lam) * ref_partner[key], rel=1e-5)
    assert got['acc'] == pytest.approx((ref_own['acc'] + ref_partner['acc']) /
                                       2)
    weighted = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRoIHead'), [mixed] * num_imgs, lam)
    assert weighted['loss_cls'] != pytest.approx(got['loss_cls'])


def test_exact_mode_empty_partner_group(frcnn_cfg):
    """A partner without boxes still adds (1 - lam) * its background loss."""
    lam = 0.6
    own = make_gts(GT_BOXES, [0, 2])
    mixed = make_gts(GT_BOXES, [0, 2], [lam, lam])
    mixed.mix_group = torch.tensor([0, 0])
    stock = pseudo_sampled(frcnn_cfg, 'StandardRoIHead')
    ref_own = batch_losses(stock, [own])
    ref_empty = batch_losses(stock, [make_gts([], [])])
    got = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True), [mixed], lam)
    assert got['loss_cls'] == pytest.approx(
        lam * ref_own['loss_cls'] + (1 - lam) * ref_empty['loss_cls'],
        rel=1e-5)
    assert ref_empty['loss_bbox'] == 0
