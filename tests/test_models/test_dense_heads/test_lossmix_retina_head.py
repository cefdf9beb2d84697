import math

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.structures import InstanceData

from one_stage_head_utils import (GT_BOXES, GT_LABELS, IMG_META, NUM_CLASSES,
                                  assert_same_losses, build_pair, feats,
                                  flat_scores, focal_terms, gts, head_cfg,
                                  losses, mixed_gts, one_gt, raw_losses,
                                  train_two_iters)

KIND, TYPE = 'retina', 'LossMixRetinaHead'


@pytest.mark.parametrize('weights', ['absent', 'ones'])
def test_equals_stock_retina_head(weights):
    """Two images, the first weighted (all ones) or not: bit-equal."""
    stock, ours = build_pair(KIND, TYPE)
    ref = raw_losses(stock, [gts(), one_gt(1)])
    batch = [gts(), one_gt(1)] if weights == 'absent' else \
        [gts([1.0, 1.0], [1.0, 1.0]), one_gt(1)]
    got = raw_losses(ours, batch)
    assert_same_losses(got, ref)
    assert sum(ref['loss_bbox']).item() > 0
    assert type(ours).reads_loss_weights


def test_one_gt_weight_scales_regression():
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
    assert got['loss_bbox'] == pytest.approx(0.3 * ref['loss_bbox'], rel=1e-6)


def test_focal_loss_by_hand():
    """The focal loss, written out: positives of gt k weigh w_k, negatives
    1, ignored anchors 0, divided by the (unweighted) positive count."""
    stock, head = build_pair(KIND, TYPE)
    w = torch.tensor([0.3, 0.8])
    outs = head(feats(head))
    got = sum(
        head.loss_by_feat(*outs, [gts(w.tolist())],
                          [IMG_META])['loss_cls']).item()
    ref = sum(stock.loss_by_feat(*outs, [gts()], [IMG_META])['loss_cls'])
    # the stock targets, anchor by anchor (allowed_border=-1: all inside)
    sizes = [s.shape[-2:] for s in outs[0]]
    anchors = torch.cat(stock.prior_generator.grid_priors(sizes, device='cpu'))
    labels, label_weights = stock._get_targets_single(
        anchors, torch.ones(len(anchors), dtype=torch.bool), gts(),
        IMG_META)[:2]
    pos = labels < NUM_CLASSES
    assert set(labels[pos].tolist()) == {0, 1}  # label k <=> gt k
    assert (label_weights == 0).any()  # anchors between the IoU thresholds
    terms = focal_terms(flat_scores(outs[0]), labels) * label_weights
    num_pos = pos.sum().item()
    assert ref.item() == pytest.approx(terms.sum().item() / num_pos, rel=1e-5)
    sample_w = torch.ones(len(labels), dtype=torch.float64)
    sample_w[pos] = w.double()[labels[pos]]
    assert got == pytest.approx(
        (terms * sample_w).sum().item() / num_pos, rel=1e-5)
    # = stock - sum_k (1 - w_k) * (gt k's positives' part)
    parts = [terms[labels == k].sum().item() / num_pos for k in (0, 1)]
    assert got == pytest.approx(
        ref.item() - 0.7 * parts[0] - 0.2 * parts[1], rel=1e-5)


def test_ignored_instances_reach_the_assigner():
    """A box the packer ignores (``min_visible``) arrives as an ignored
    instance; with the assigner's ``ignore_iof_thr`` (the region study's
    RetinaNet runs) the anchors inside it are neither positive nor negative,
    exactly as in ``RetinaHead``; without ignores they are negatives."""
    cfgs = [head_cfg(KIND, type_) for type_ in (None, TYPE)]
    for cfg in cfgs:
        cfg.train_cfg.assigner.ignore_iof_thr = 0.5
    torch.manual_seed(0)
    stock, ours = (MODELS.build(cfg).eval() for cfg in cfgs)
    ours.load_state_dict(stock.state_dict())
    ignored = InstanceData(
        bboxes=torch.tensor(GT_BOXES[1:], dtype=torch.float32),
        labels=torch.tensor(GT_LABELS[1:]))
    got, ref, plain = (head.loss_by_feat(*head(feats(head)), [one_gt(0)],
                                         [IMG_META], ignore)
                       for head, ignore in ((ours, [ignored]),
                                            (stock, [ignored]), (ours, None)))
    assert_same_losses(got, ref)
    assert sum(got['loss_cls']).item() < sum(plain['loss_cls']).item()


def test_empty_gts():
    stock, ours = build_pair(KIND, TYPE)
    empty = gts([], [], boxes=[], labels=[])
    ref = raw_losses(stock, [gts(boxes=[], labels=[])])
    assert_same_losses(raw_losses(ours, [empty]), ref)
    assert sum(ref['loss_bbox']).item() == 0


def test_reg_weights():
    """reg_weights (1, 0) and (0, 1) split the stock box loss; the focal
    loss is untouched; (0, 0) leaves no box loss."""
    stock, head = build_pair(KIND, TYPE)
    ref = losses(stock, [gts()])
    first = losses(head, [gts(reg_weights=[1.0, 0.0])])
    second = losses(head, [gts(reg_weights=[0.0, 1.0])])
    assert first['loss_cls'] == second['loss_cls'] == ref['loss_cls']
    assert 0 < first['loss_bbox'] < ref['loss_bbox']
    assert first['loss_bbox'] + second['loss_bbox'] == pytest.approx(
        ref['loss_bbox'], rel=1e-6)
    assert losses(head, [gts(reg_weights=[0.0, 0.0])])['loss_bbox'] == 0
    # on top of the loss weights
    got = losses(head, [gts([0.5, 0.9], [1.0, 0.0])])
    assert got['loss_bbox'] == pytest.approx(
        0.5 * first['loss_bbox'], rel=1e-6)


def test_exact_mode_is_eq14():
    lam = 0.3
    stock, exact = build_pair(KIND, TYPE, exact=True)
    own = losses(stock, [one_gt(0)])
    partner = losses(stock, [one_gt(1)])
    got = losses(exact, [mixed_gts(lam)], [dict(IMG_META, mix_lambda=lam)])
    for key in got:
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)
    with pytest.raises(ValueError, match='mix_cls=True and mix_reg=True'):
        build_pair(KIND, TYPE, exact=True, mix_cls=False)


def test_tiny_retinanet_trains():
    """Two steps with loss weights; the weights reach the head (the first
    loss differs from the unmixed batch's)."""
    totals = train_two_iters(KIND, TYPE)
    assert all(math.isfinite(t) and t > 0 for t in totals)
    assert totals[1] != totals[0]
    assert train_two_iters(KIND, TYPE, weights=None)[0] > totals[0]
