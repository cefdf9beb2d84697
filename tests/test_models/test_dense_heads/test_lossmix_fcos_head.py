import math

import pytest
import torch

from one_stage_head_utils import (IMG_META, NUM_CLASSES, assert_same_losses,
                                  build_pair, feats, flat_scores, focal_terms,
                                  gts, losses, mixed_gts, one_gt, raw_losses,
                                  train_two_iters)

KIND, TYPE = 'fcos', 'LossMixFCOSHead'


@pytest.mark.parametrize('weights', ['absent', 'ones'])
def test_equals_stock_fcos_head(weights):
    stock, ours = build_pair(KIND, TYPE)
    ref = raw_losses(stock, [gts(), one_gt(1)])
    batch = [gts(), one_gt(1)] if weights == 'absent' else \
        [gts([1.0, 1.0], [1.0, 1.0]), one_gt(1)]
    assert_same_losses(raw_losses(ours, batch), ref)
    assert ref['loss_bbox'].item() > 0 and ref['loss_centerness'] > 0


def test_one_gt_weight_scales_box_and_centerness():
    _, head = build_pair(KIND, TYPE)
    ref = losses(head, [one_gt(0)])
    got = losses(head, [one_gt(0, [0.3])])
    for key in ('loss_bbox', 'loss_centerness'):
        assert got[key] == pytest.approx(0.3 * ref[key], rel=1e-6)
    assert got['loss_cls'] < ref['loss_cls']
    _, no_reg = build_pair(KIND, TYPE, mix_reg=False)
    got = losses(no_reg, [one_gt(0, [0.3])])
    assert got['loss_bbox'] == ref['loss_bbox']
    assert got['loss_centerness'] == ref['loss_centerness']
    _, no_cls = build_pair(KIND, TYPE, mix_cls=False)
    got = losses(no_cls, [one_gt(0, [0.3])])
    assert got['loss_cls'] == ref['loss_cls']


def test_focal_loss_by_hand_and_assigned_gts():
    """Two images; gt k of image 0 weighs w_k, image 1 is unweighted: the
    focal loss of every point, by the formula, weighted, over the
    (unweighted) positive count of the batch."""
    stock, head = build_pair(KIND, TYPE)
    w = torch.tensor([0.3, 0.8])
    batch = [gts(w.tolist()), one_gt(1)]
    outs = head(feats(head, seeds=(0, 1)))
    got = head.loss_by_feat(*outs, batch, [IMG_META] * 2)['loss_cls']
    ref = stock.loss_by_feat(*outs, [gts(), one_gt(1)],
                             [IMG_META] * 2)['loss_cls']
    sizes = [s.shape[-2:] for s in outs[0]]
    points = stock.prior_generator.grid_priors(sizes, device='cpu')
    labels = torch.cat(stock.get_targets(points, [gts(), one_gt(1)])[0])
    pos = labels < NUM_CLASSES
    terms = focal_terms(flat_scores(outs[0]), labels)
    num_pos = pos.sum().item()
    assert ref.item() == pytest.approx(terms.sum().item() / num_pos, rel=1e-5)
    # which image each flattened point belongs to (level, image, position)
    image = torch.cat(
        [torch.arange(2).repeat_interleave(len(p)) for p in points])
    assert set(labels[pos & (image == 0)].tolist()) == {0, 1}
    sample_w = torch.ones(len(labels), dtype=torch.float64)
    weighted = pos & (image == 0)
    sample_w[weighted] = w.double()[labels[weighted]]
    assert got.item() == pytest.approx(
        (terms * sample_w).sum().item() / num_pos, rel=1e-5)
    # the assignment the head reads off the targets: gt k <=> label k
    labels, targets = stock.get_targets(points, [gts(), one_gt(1)])
    for level, stride in enumerate(stock.strides):
        gt_inds = head.point_assigned_gt_inds(points[level], labels[level],
                                              targets[level], stride,
                                              [gts(), one_gt(1)])
        for img, inds in enumerate(gt_inds):
            level_labels = labels[level].view(2, -1)[img]
            expected = torch.where(level_labels < NUM_CLASSES, level_labels,
                                   -1)
            if img == 1:  # its one gt is gt 0, label 1
                expected = torch.where(expected == 1, 0, expected)
            assert torch.equal(inds, expected)


def test_duplicate_boxes_take_the_first_smallest_gt():
    """Two identical boxes of different weights and a larger one around
    them: FCOS assigns the first identical box (its minimum), so do the
    weights."""
    stock, head = build_pair(KIND, TYPE)
    boxes = [[0, 0, 64, 64], [10, 10, 40, 40], [10, 10, 40, 40]]
    plain = gts(boxes=boxes, labels=[0, 1, 2])
    outs = head(feats(head))
    sizes = [s.shape[-2:] for s in outs[0]]
    points = stock.prior_generator.grid_priors(sizes, device='cpu')
    labels, targets = stock.get_targets(points, [plain])
    found = set()
    for level, stride in enumerate(stock.strides):
        inds = head.point_assigned_gt_inds(points[level], labels[level],
                                           targets[level], stride, [plain])[0]
        assert torch.equal(
            inds, torch.where(labels[level] < NUM_CLASSES, labels[level], -1))
        found |= set(inds.tolist())
    assert {0, 1} <= found and 2 not in found  # the duplicate: never
    ref = losses(head, [gts([0.5, 0.4, 1.0], boxes=boxes, labels=[0, 1, 2])])
    dup = losses(head, [gts([0.5, 0.4, 0.9], boxes=boxes, labels=[0, 1, 2])])
    assert ref == dup


def test_empty_gts():
    stock, ours = build_pair(KIND, TYPE)
    ref = raw_losses(stock, [gts(boxes=[], labels=[])])
    got = raw_losses(ours, [gts([], [], boxes=[], labels=[])])
    assert_same_losses(got, ref)
    assert ref['loss_bbox'].item() == 0
    # an empty image beside a weighted one
    ref = raw_losses(stock, [gts(boxes=[], labels=[]), gts()])
    got = raw_losses(ours, [gts([], boxes=[], labels=[]), gts([0.5, 0.5])])
    assert got['loss_bbox'].item() == pytest.approx(
        0.5 * ref['loss_bbox'].item(), rel=1e-6)


def test_reg_weights():
    """reg_weights split the centerness-weighted IoU loss; focal and
    centerness losses untouched."""
    stock, head = build_pair(KIND, TYPE)
    ref = losses(stock, [gts()])
    first = losses(head, [gts(reg_weights=[1.0, 0.0])])
    second = losses(head, [gts(reg_weights=[0.0, 1.0])])
    for key in ('loss_cls', 'loss_centerness'):
        assert first[key] == second[key] == ref[key]
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


def test_tiny_fcos_trains():
    """Two steps with loss weights; the weights reach the head (the first
    loss differs from the unmixed batch's)."""
    totals = train_two_iters(KIND, TYPE)
    assert all(math.isfinite(t) and t > 0 for t in totals)
    assert totals[1] != totals[0]
    assert train_two_iters(KIND, TYPE, weights=None)[0] > totals[0]


@pytest.mark.parametrize('norm_on_bbox,center_sampling', [(True, False),
                                                          (False, True),
                                                          (True, True)])
def test_assignment_read_with_norm_on_bbox_and_center_sampling(
        norm_on_bbox, center_sampling):
    """Targets divided by the stride, positives in the gt's centre region:
    every positive still finds its gt (all gts at weight w: the box and
    centerness losses are w x stock exactly)."""
    stock, head = build_pair(KIND, TYPE)
    for each in (stock, head):
        each.norm_on_bbox = norm_on_bbox
        each.center_sampling = center_sampling
    ref = losses(stock, [gts(), one_gt(1)])
    got = losses(head, [gts([0.4, 0.4]), one_gt(1, [0.4])])
    assert ref['loss_bbox'] > 0
    for key in ('loss_bbox', 'loss_centerness'):
        assert got[key] == pytest.approx(0.4 * ref[key], rel=1e-6)
