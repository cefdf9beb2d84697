import math

import pytest

from one_stage_head_utils import (IMG_META, assert_same_losses, build_pair,
                                  gts, losses, mixed_gts, one_gt, raw_losses,
                                  train_two_iters)

KIND, TYPE = 'rtmdet', 'LossMixRTMDetSepBNHead'


@pytest.mark.parametrize('weights', ['absent', 'ones'])
def test_equals_stock_rtmdet_head(weights):
    """Two images, the first weighted (all ones) or not: bit-equal (the
    unweighted image packs ones beside a weighted one)."""
    stock, ours = build_pair(KIND, TYPE)
    ref = raw_losses(stock, [gts(), one_gt(1)])
    batch = [gts(), one_gt(1)] if weights == 'absent' else \
        [gts([1.0, 1.0], [1.0, 1.0]), one_gt(1)]
    assert_same_losses(raw_losses(ours, batch), ref)
    assert sum(ref['loss_bbox']).item() > 0


def test_one_gt_weight_scales_regression():
    """The GIoU loss, weighted by the assign metrics and normalised by
    their sum, scales by w: the normaliser is unchanged."""
    _, head = build_pair(KIND, TYPE)
    ref = losses(head, [one_gt(0)])
    got = losses(head, [one_gt(0, [0.3])])
    assert got['loss_bbox'] == pytest.approx(0.3 * ref['loss_bbox'], rel=1e-6)
    assert got['loss_cls'] < ref['loss_cls']
    _, no_reg = build_pair(KIND, TYPE, mix_reg=False)
    got = losses(no_reg, [one_gt(0, [0.3])])
    assert got['loss_bbox'] == ref['loss_bbox']
    _, no_cls = build_pair(KIND, TYPE, mix_cls=False)
    got = losses(no_cls, [one_gt(0, [0.3])])
    assert got['loss_cls'] == ref['loss_cls']


def test_loss_is_linear_in_each_gt_weight():
    """loss(w0, w1) = L_neg + w0 L_0 + w1 L_1: the quality focal loss
    keeps the assign-metric sum as its normaliser."""
    _, head = build_pair(KIND, TYPE)

    def f(w0, w1):
        return losses(head, [gts([w0, w1])])

    full, half0, half1, target = f(1, 1), f(0.5, 1), f(1, 0.5), f(0.2, 0.7)
    for key in full:
        part0 = 2 * (full[key] - half0[key])
        part1 = 2 * (full[key] - half1[key])
        assert part0 > 0 and part1 > 0
        assert target[key] == pytest.approx(
            full[key] - 0.8 * part0 - 0.3 * part1, rel=1e-5)


def test_empty_gts():
    stock, ours = build_pair(KIND, TYPE)
    ref = raw_losses(stock, [gts(boxes=[], labels=[])])
    got = raw_losses(ours, [gts([], [], boxes=[], labels=[])])
    assert_same_losses(got, ref)
    assert sum(ref['loss_bbox']).item() == 0
    ref = raw_losses(stock, [gts(boxes=[], labels=[]), gts()])
    got = raw_losses(ours, [gts([], boxes=[], labels=[]), gts([0.5, 0.5])])
    assert sum(got['loss_bbox']).item() == pytest.approx(
        0.5 * sum(ref['loss_bbox']).item(), rel=1e-6)


def test_reg_weights():
    stock, head = build_pair(KIND, TYPE)
    ref = losses(stock, [gts()])
    first = losses(head, [gts(reg_weights=[1.0, 0.0])])
    second = losses(head, [gts(reg_weights=[0.0, 1.0])])
    assert first['loss_cls'] == second['loss_cls'] == ref['loss_cls']
    assert 0 < first['loss_bbox'] < ref['loss_bbox']
    assert first['loss_bbox'] + second['loss_bbox'] == pytest.approx(
        ref['loss_bbox'], rel=1e-6)
    assert losses(head, [gts(reg_weights=[0.0, 0.0])])['loss_bbox'] == 0


def test_exact_mode_is_eq14():
    lam = 0.3
    stock, exact = build_pair(KIND, TYPE, exact=True)
    own = losses(stock, [one_gt(0)])
    partner = losses(stock, [one_gt(1)])
    got = losses(exact, [mixed_gts(lam)], [dict(IMG_META, mix_lambda=lam)])
    for key in got:
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)


def test_tiny_rtmdet_trains():
    """Two steps with loss weights; the weights reach the head (the first
    loss differs from the unmixed batch's)."""
    totals = train_two_iters(KIND, TYPE)
    assert all(math.isfinite(t) and t > 0 for t in totals)
    assert totals[1] != totals[0]
    assert train_two_iters(KIND, TYPE, weights=None)[0] > totals[0]
