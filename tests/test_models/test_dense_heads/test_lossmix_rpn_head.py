import copy

import pytest
import torch

from mmdet.registry import MODELS
from lossmix_test_utils import make_gts, rand_feats

IMG_META = dict(img_shape=(64, 64), pad_shape=(64, 64), scale_factor=1)


def build(frcnn_cfg, type_, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.rpn_head)
    cfg.update(type=type_, train_cfg=frcnn_cfg.train_cfg.rpn,
               test_cfg=frcnn_cfg.test_cfg.rpn, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def losses(head, gts, seed=0):
    feats = rand_feats(seed)
    outs = head(feats)
    torch.manual_seed(1)  # the RPN's RandomSampler
    out = head.loss_by_feat(*outs, [gts], [IMG_META])
    return {k: sum(v).item() if isinstance(v, list) else v.item()
            for k, v in out.items()}


GT_BOXES = [[4, 4, 30, 36], [30, 20, 60, 50]]


@pytest.mark.parametrize('weights', [None, [1.0, 1.0]])
def test_equals_stock_rpn_head(frcnn_cfg, weights):
    stock = build(frcnn_cfg, 'RPNHead')
    ours = build(frcnn_cfg, 'LossMixRPNHead')
    ref = losses(stock, make_gts(GT_BOXES, [0, 0]))
    got = losses(ours, make_gts(GT_BOXES, [0, 0], weights))
    assert got == ref  # exactly


def test_single_gt_weight_scales_regression_exactly(frcnn_cfg):
    head = build(frcnn_cfg, 'LossMixRPNHead')
    ref = losses(head, make_gts(GT_BOXES[:1], [0]))
    got = losses(head, make_gts(GT_BOXES[:1], [0], [0.3]))
    assert got['loss_rpn_bbox'] == pytest.approx(0.3 * ref['loss_rpn_bbox'],
                                                 rel=1e-6)
    assert got['loss_rpn_cls'] < ref['loss_rpn_cls']
    # mix_cls / mix_reg switch off each part
    no_reg = build(frcnn_cfg, 'LossMixRPNHead', mix_reg=False)
    got = losses(no_reg, make_gts(GT_BOXES[:1], [0], [0.3]))
    assert got['loss_rpn_bbox'] == pytest.approx(ref['loss_rpn_bbox'],
                                                 rel=1e-7)
    no_cls = build(frcnn_cfg, 'LossMixRPNHead', mix_cls=False)
    got = losses(no_cls, make_gts(GT_BOXES[:1], [0], [0.3]))
    assert got['loss_rpn_cls'] == pytest.approx(ref['loss_rpn_cls'],
                                                rel=1e-7)


def test_loss_is_linear_in_each_gt_weight(frcnn_cfg):
    """loss(w0, w1) = L_neg + w0 * L_0 + w1 * L_1 with fixed normalisers.

    L_0 and L_1 are read off two runs with one weight halved; the loss at
    (0.2, 0.7) must follow. A changed normaliser would break it.
    """
    head = build(frcnn_cfg, 'LossMixRPNHead')

    def f(w0, w1):
        return losses(head, make_gts(GT_BOXES, [0, 0], [w0, w1]))

    full, half0, half1, target = f(1, 1), f(0.5, 1), f(1, 0.5), f(0.2, 0.7)
    for key in ('loss_rpn_cls', 'loss_rpn_bbox'):
        part0 = 2 * (full[key] - half0[key])
        part1 = 2 * (full[key] - half1[key])
        assert part0 > 0 and part1 > 0
        expected = full[key] - 0.8 * part0 - 0.3 * part1
        assert target[key] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('allowed_border', [-1, 0])
def test_weights_land_on_the_assigned_anchors(frcnn_cfg, allowed_border):
    """Targets, anchor by anchor: positives of gt k get w_k, others 1.

    With allowed_border=0 some anchors lie outside the image, so the
    inside-anchor indices must be mapped back to all anchors.
    """
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rpn)
    train_cfg.allowed_border = allowed_border
    cfg = copy.deepcopy(frcnn_cfg.rpn_head)
    cfg.update(type='LossMixRPNHead', train_cfg=train_cfg,
               test_cfg=frcnn_cfg.test_cfg.rpn)
    head = MODELS.build(cfg)
    anchors = head.prior_generator.grid_priors(
        [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)], device='cpu')
    flat = torch.cat(anchors)
    valid = torch.ones(len(flat), dtype=torch.bool)
    gts = make_gts(GT_BOXES, [0, 0])
    torch.manual_seed(2)
    ref = head._get_targets_single(flat, valid, gts, IMG_META)
    gts.loss_weights = torch.tensor([0.25, 0.5])
    torch.manual_seed(2)
    got = head._get_targets_single(flat, valid, gts, IMG_META)
    if allowed_border == 0:
        assert (ref[1] == 0).any()  # some anchors really are outside
    sampling = ref[6]
    pos = ref[4]
    expected = torch.ones(len(flat))
    pos_mask = ref[3].sum(1) > 0  # bbox_weights > 0 <=> positive anchor
    assert pos_mask.sum().item() == len(pos) > 0
    assigned = sampling.pos_assigned_gt_inds
    # positives in the stock targets appear in ascending anchor order
    pos_anchor_ids = torch.nonzero(pos_mask, as_tuple=True)[0]
    order = torch.argsort(pos)
    expected[pos_anchor_ids] = torch.tensor([0.25, 0.5])[assigned[order]]
    torch.testing.assert_close(got[1], ref[1] * expected)
    torch.testing.assert_close(got[3], ref[3] * expected[:, None])
    assert torch.equal(got[0], ref[0]) and torch.equal(got[2], ref[2])
    assert set(assigned.tolist()) == {0, 1}


def test_empty_gts(frcnn_cfg):
    stock = build(frcnn_cfg, 'RPNHead')
    ours = build(frcnn_cfg, 'LossMixRPNHead')
    ref = losses(stock, make_gts([], []))
    got = losses(ours, make_gts([], [], []))
    assert got == ref
    assert got['loss_rpn_bbox'] == 0


def pseudo_sampled(frcnn_cfg, type_, **kwargs):
    """A head whose sampler takes every anchor: no randomness."""
    cfg = copy.deepcopy(frcnn_cfg.rpn_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rpn)
    train_cfg.sampler = dict(type='PseudoSampler')
    cfg.update(type=type_, train_cfg=train_cfg,
               test_cfg=frcnn_cfg.test_cfg.rpn, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch_losses(head, gts_list, metas):
    feats = [torch.cat(level) for level in zip(
        *[rand_feats(seed) for seed in range(len(gts_list))])]
    outs = head(feats)
    out = head.loss_by_feat(*outs, gts_list, metas)
    return {k: sum(v).item() for k, v in out.items()}


@pytest.mark.parametrize('num_imgs', [1, 2])
def test_exact_mode_is_eq14(frcnn_cfg, num_imgs):
    """exact: lam * stock(y_i) + (1 - lam) * stock(y_j), own gts group 0."""
    lam = 0.3
    own = make_gts(GT_BOXES[:1], [0])
    partner = make_gts(GT_BOXES[1:], [0])
    mixed = make_gts(GT_BOXES, [0, 0], [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    meta = dict(IMG_META, mix_lambda=lam)
    stock = pseudo_sampled(frcnn_cfg, 'RPNHead')
    exact = pseudo_sampled(frcnn_cfg, 'LossMixRPNHead', exact=True)
    ref_own = batch_losses(stock, [own] * num_imgs, [IMG_META] * num_imgs)
    ref_partner = batch_losses(stock, [partner] * num_imgs,
                               [IMG_META] * num_imgs)
    got = batch_losses(exact, [mixed] * num_imgs, [meta] * num_imgs)
    for key in got:
        assert got[key] == pytest.approx(
            lam * ref_own[key] + (1 - lam) * ref_partner[key], rel=1e-5)
    # it differs from the weighted (one-assignment) LossMix loss
    weighted = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRPNHead'), [mixed] * num_imgs,
        [meta] * num_imgs)
    assert weighted['loss_rpn_cls'] != pytest.approx(got['loss_rpn_cls'])


def test_exact_mode_unmixed_and_bad_flags(frcnn_cfg):
    gts = make_gts(GT_BOXES, [0, 0])
    stock = batch_losses(pseudo_sampled(frcnn_cfg, 'RPNHead'), [gts],
                         [IMG_META])
    exact = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRPNHead', exact=True), [gts],
        [dict(IMG_META, mix_lambda=1.0)])
    assert exact == pytest.approx(stock, rel=1e-6)
    with pytest.raises(ValueError, match='mix_cls=True and mix_reg=True'):
        pseudo_sampled(frcnn_cfg, 'LossMixRPNHead', exact=True,
                       mix_reg=False)
