import copy

import pytest
import torch
from mmdet.registry import MODELS

from lossmix_test_utils import make_gts, rand_feats

IMG_META = dict(img_shape=(64, 64), pad_shape=(64, 64), scale_factor=1)


def build(frcnn_cfg, type_, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.rpn_head)
    cfg.update(
        type=type_,
        train_cfg=frcnn_cfg.train_cfg.rpn,
        test_cfg=frcnn_cfg.test_cfg.rpn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def losses(head, gts, seed=0):
    feats = rand_feats(seed)
    outs = head(feats)
    torch.manual_seed(1)  # the RPN's RandomSampler
    out = head.loss_by_feat(*outs, [gts], [IMG_META])
    return {
        k: sum(v).item() if isinstance(v, list) else v.item()
        for k, v in out.items()
    }


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
    assert got['loss_rpn_bbox'] == pytest.approx(
        0.3 * ref['loss_rpn_bbox'], rel=1e-6)
    assert got['loss_rpn_cls'] < ref['loss_rpn_cls']
    # mix_cls / mix_reg switch off each part
    no_reg = build(frcnn_cfg, 'LossMixRPNHead', mix_reg=False)
    got = losses(no_reg, make_gts(GT_BOXES[:1], [0], [0.3]))
    assert got['loss_rpn_bbox'] == pytest.approx(
        ref['loss_rpn_bbox'], rel=1e-7)
    no_cls = build(frcnn_cfg, 'LossMixRPNHead', mix_cls=False)
    got = losses(no_cls, make_gts(GT_BOXES[:1], [0], [0.3]))
    assert got['loss_rpn_cls'] == pytest.approx(ref['loss_rpn_cls'], rel=1e-7)


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
    cfg.update(
        type='LossMixRPNHead',
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rpn)
    head = MODELS.build(cfg)
    anchors = head.prior_generator.grid_priors([(16, 16), (8, 8), (4, 4),
                                                (2, 2), (1, 1)],
                                               device='cpu')
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
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rpn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch_losses(head, gts_list, metas, seeds=None):
    seeds = range(len(gts_list)) if seeds is None else seeds
    feats = [
        torch.cat(level)
        for level in zip(*[rand_feats(seed) for seed in seeds])
    ]
    outs = head(feats)
    out = head.loss_by_feat(*outs, gts_list, metas)
    return {k: sum(v).item() for k, v in out.items()}


# exact modes, and samplers that take every candidate (nothing random):
# Eq. 14 term by term in every mode, ignore bands ('pseudo', 'band')
# included
EXACT_CASES = [('two_pass', 'pseudo'), ('two_pass', 'all'),
               ('single_pass', 'all'), (True, 'all'), (True, 'pseudo'),
               ('single_pass', 'pseudo'), (True, 'band'), ('two_pass', 'band')]


def sampled_head(frcnn_cfg, sampling, type_, **kwargs):
    if sampling == 'band':
        return all_sampled(frcnn_cfg, type_, ignore_band=True, **kwargs)
    builder = dict(pseudo=pseudo_sampled, all=all_sampled)[sampling]
    return builder(frcnn_cfg, type_, **kwargs)


@pytest.mark.parametrize('num_imgs', [1, 2])
@pytest.mark.parametrize('exact,sampling', EXACT_CASES)
def test_exact_mode_is_eq14(frcnn_cfg, num_imgs, exact, sampling):
    """exact: lam * stock(y_i) + (1 - lam) * stock(y_j), own gts group 0."""
    lam = 0.3
    own = make_gts(GT_BOXES[:1], [0])
    partner = make_gts(GT_BOXES[1:], [0])
    mixed = make_gts(GT_BOXES, [0, 0], [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    meta = dict(IMG_META, mix_lambda=lam)
    stock = sampled_head(frcnn_cfg, sampling, 'RPNHead')
    head = sampled_head(frcnn_cfg, sampling, 'LossMixRPNHead', exact=exact)
    assert head.exact_mode == ('single_pass' if exact is True else exact)
    ref_own = batch_losses(stock, [own] * num_imgs, [IMG_META] * num_imgs)
    ref_partner = batch_losses(stock, [partner] * num_imgs,
                               [IMG_META] * num_imgs)
    got = batch_losses(head, [mixed] * num_imgs, [meta] * num_imgs)
    for key in got:
        assert got[key] == pytest.approx(
            lam * ref_own[key] + (1 - lam) * ref_partner[key], rel=1e-5)
    # it differs from the weighted (one-assignment) LossMix loss
    weighted = batch_losses(
        sampled_head(frcnn_cfg, sampling, 'LossMixRPNHead'),
        [mixed] * num_imgs, [meta] * num_imgs)
    assert weighted['loss_rpn_cls'] != pytest.approx(got['loss_rpn_cls'])


@pytest.mark.parametrize('exact', ['two_pass', 'single_pass'])
def test_exact_mode_unmixed_and_bad_flags(frcnn_cfg, exact):
    gts = make_gts(GT_BOXES, [0, 0])
    stock = batch_losses(
        pseudo_sampled(frcnn_cfg, 'RPNHead'), [gts], [IMG_META])
    got = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRPNHead', exact=exact), [gts],
        [dict(IMG_META, mix_lambda=1.0)])
    assert got == pytest.approx(stock, rel=1e-6)
    with pytest.raises(ValueError, match='mix_cls=True and mix_reg=True'):
        pseudo_sampled(frcnn_cfg, 'LossMixRPNHead', exact=exact, mix_reg=False)


def test_exact_mode_names_the_valid_modes(frcnn_cfg):
    with pytest.raises(
            ValueError,
            match=r"LossMixRPNHead exact must be one "
            r"of False, True, 'single_pass', 'two_pass', got "
            r"'one_pass'"):
        build(frcnn_cfg, 'LossMixRPNHead', exact='one_pass')
    assert build(frcnn_cfg, 'LossMixRPNHead').exact_mode is None


# ------------------------------------------------ per-box regression weights
def with_reg(gts, reg_weights):
    gts.reg_weights = torch.tensor(reg_weights, dtype=torch.float32)
    return gts


def zeroed_stock(frcnn_cfg, gt_inds):
    """The stock head, whose positives assigned to ``gt_inds`` get bbox
    weight 0 (with allowed_border=-1 pos_inds index all anchors)."""
    assert frcnn_cfg.train_cfg.rpn.allowed_border == -1
    head = build(frcnn_cfg, 'RPNHead')
    targets_single = head._get_targets_single

    def zeroed(*args, **kwargs):
        targets = targets_single(*args, **kwargs)
        pos_inds, sampling = targets[4], targets[6]
        bbox_weights = targets[3].clone()
        for k in gt_inds:
            bbox_weights[pos_inds[sampling.pos_assigned_gt_inds == k]] = 0
        return targets[:3] + (bbox_weights, ) + targets[4:]

    head._get_targets_single = zeroed
    return head


def test_reg_weights_zero_pseudo_boxes(frcnn_cfg):
    """gt 0 a source box (reg 1), gt 1 a pseudo-box (reg 0), one image."""
    head = build(frcnn_cfg, 'LossMixRPNHead')
    stock = losses(build(frcnn_cfg, 'RPNHead'), make_gts(GT_BOXES, [0, 0]))
    source_only = losses(
        zeroed_stock(frcnn_cfg, [1]), make_gts(GT_BOXES, [0, 0]))
    got = losses(head, with_reg(make_gts(GT_BOXES, [0, 0]), [1.0, 0.0]))
    assert got == source_only  # exactly
    assert got['loss_rpn_cls'] == stock['loss_rpn_cls']
    # the two boxes' shares add up to the stock loss (same normaliser)
    other = losses(head, with_reg(make_gts(GT_BOXES, [0, 0]), [0.0, 1.0]))
    assert 0 < got['loss_rpn_bbox'] < stock['loss_rpn_bbox']
    assert got['loss_rpn_bbox'] + other['loss_rpn_bbox'] == pytest.approx(
        stock['loss_rpn_bbox'], rel=1e-6)
    ones = losses(head, with_reg(make_gts(GT_BOXES, [0, 0]), [1.0, 1.0]))
    assert ones == stock  # exactly


def test_reg_weights_on_top_of_loss_weights(frcnn_cfg):
    """loss weights (0.3, 0.7), reg weights (1, 0): the box loss is 0.3 x
    the source box's share, the objectness loss the weighted one."""
    lw = [0.3, 0.7]
    weighted = losses(
        build(frcnn_cfg, 'LossMixRPNHead'), make_gts(GT_BOXES, [0, 0], lw))
    source_only = losses(
        zeroed_stock(frcnn_cfg, [1]), make_gts(GT_BOXES, [0, 0]))
    got = losses(
        build(frcnn_cfg, 'LossMixRPNHead'),
        with_reg(make_gts(GT_BOXES, [0, 0], lw), [1.0, 0.0]))
    assert got['loss_rpn_cls'] == weighted['loss_rpn_cls']
    assert got['loss_rpn_bbox'] == pytest.approx(
        0.3 * source_only['loss_rpn_bbox'], rel=1e-6)
    # mix_reg=False: loss weights leave the box loss, reg_weights do not
    no_reg = losses(
        build(frcnn_cfg, 'LossMixRPNHead', mix_reg=False),
        with_reg(make_gts(GT_BOXES, [0, 0], lw), [1.0, 0.0]))
    assert no_reg['loss_rpn_bbox'] == source_only['loss_rpn_bbox']
    assert no_reg['loss_rpn_cls'] == weighted['loss_rpn_cls']
    both_off = losses(
        build(frcnn_cfg, 'LossMixRPNHead', mix_cls=False, mix_reg=False),
        with_reg(make_gts(GT_BOXES, [0, 0], lw), [1.0, 0.0]))
    assert both_off == source_only


@pytest.mark.parametrize('bad', [[-1.0, 1.0], [float('nan'), 1.0]])
def test_bad_reg_weights_raise(frcnn_cfg, bad):
    with pytest.raises(ValueError, match='reg_weights must be finite'):
        losses(
            build(frcnn_cfg, 'LossMixRPNHead'),
            with_reg(make_gts(GT_BOXES, [0, 0]), bad))


# ------------------------------------------- exact mode: batches and modes
def all_sampled(frcnn_cfg, type_, ignore_band=False, **kwargs):
    """A head that trains on every anchor with the same normaliser in every
    image and pass: no ignore band between the IoU thresholds (unless
    ``ignore_band``: mmdet's 0.3 / 0.7), and a RandomSampler that takes all
    candidates, so ``avg_factor`` (positives + negatives) is the anchor
    count, 1023 for a 64x64 image. (PseudoSampler's ``avg_factor`` counts
    positives only: it differs between images.)"""
    cfg = copy.deepcopy(frcnn_cfg.rpn_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rpn)
    if not ignore_band:
        train_cfg.assigner.neg_iou_thr = train_cfg.assigner.pos_iou_thr
    train_cfg.sampler = dict(
        type='RandomSampler',
        num=4096,
        pos_fraction=1.0,
        neg_pos_ub=-1,
        add_gt_as_proposals=False)
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rpn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def mixed_gts(lam, reg_weights=None):
    gts = make_gts(GT_BOXES, [0, 0], [lam, 1 - lam])
    gts.mix_group = torch.tensor([0, 1])
    if reg_weights is not None:
        with_reg(gts, reg_weights)
    return gts


@pytest.mark.parametrize('exact', ['two_pass', 'single_pass'])
def test_exact_mode_mixed_and_unmixed_batch(frcnn_cfg, exact):
    """[mixed, unmixed] = the mean of the two one-image batches: the partner
    pass holds one image of two and counts half."""
    lam = 0.3
    plain = make_gts(GT_BOXES[1:], [0])
    mixed_meta = dict(IMG_META, mix_lambda=lam, mix_mode='lossmix')
    plain_meta = dict(IMG_META, mix_lambda=1.0, mix_mode='lossmix')
    head = all_sampled(frcnn_cfg, 'LossMixRPNHead', exact=exact)
    one = batch_losses(head, [mixed_gts(lam)], [mixed_meta], seeds=[0])
    two = batch_losses(head, [plain], [plain_meta], seeds=[1])
    got = batch_losses(
        head, [mixed_gts(lam), plain], [mixed_meta, plain_meta], seeds=[0, 1])
    for key in got:
        assert got[key] == pytest.approx((one[key] + two[key]) / 2, rel=1e-5)


@pytest.mark.parametrize('exact', ['two_pass', 'single_pass'])
@pytest.mark.parametrize('mode', [None, 'lossmix', 'union', 'noise'])
def test_exact_mode_honours_mix_mode(frcnn_cfg, mode, exact):
    """lossmix (and no mode): lam L(y_i) + (1 - lam) L(y_j); union:
    L(y_i) + L(y_j); noise: L(y_i), the partner's boxes ignored."""
    lam = 0.8
    stock = all_sampled(frcnn_cfg, 'RPNHead')
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])], [IMG_META])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [0])], [IMG_META])
    meta = dict(IMG_META, mix_lambda=lam)
    if mode is not None:
        meta['mix_mode'] = mode
    got = batch_losses(
        all_sampled(frcnn_cfg, 'LossMixRPNHead', exact=exact),
        [mixed_gts(lam)], [meta])
    c_own, c_partner = dict(
        union=(1, 1), noise=(1, 0)).get(mode, (lam, 1 - lam))
    for key in got:
        assert got[key] == pytest.approx(
            c_own * own[key] + c_partner * partner[key], rel=1e-5)


@pytest.mark.parametrize('exact', ['two_pass', 'single_pass'])
def test_exact_mode_unknown_mix_mode(frcnn_cfg, exact):
    head = all_sampled(frcnn_cfg, 'LossMixRPNHead', exact=exact)
    with pytest.raises(
            ValueError,
            match=r"mode must be one of "
            r"\('lossmix', 'union', 'noise'\), got 'mixup'"):
        batch_losses(head, [mixed_gts(0.5)],
                     [dict(IMG_META, mix_lambda=0.5, mix_mode='mixup')])


@pytest.mark.parametrize('exact,sampling', EXACT_CASES)
def test_exact_mode_keeps_reg_weights(frcnn_cfg, exact, sampling):
    """The partner's box is a pseudo-box (reg 0): its pass trains
    objectness only."""
    lam = 0.3
    stock = sampled_head(frcnn_cfg, sampling, 'RPNHead')
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])], [IMG_META])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [0])], [IMG_META])
    got = batch_losses(
        sampled_head(frcnn_cfg, sampling, 'LossMixRPNHead', exact=exact),
        [mixed_gts(lam, [1.0, 0.0])], [dict(IMG_META, mix_lambda=lam)])
    assert got['loss_rpn_cls'] == pytest.approx(
        lam * own['loss_rpn_cls'] + (1 - lam) * partner['loss_rpn_cls'],
        rel=1e-5)
    assert partner['loss_rpn_bbox'] > 0
    assert got['loss_rpn_bbox'] == pytest.approx(
        lam * own['loss_rpn_bbox'], rel=1e-5)


@pytest.mark.parametrize('exact', ['two_pass', 'single_pass'])
def test_exact_pass_coefficient_shortcut_equals_gt_lookup(frcnn_cfg, exact):
    """An exact pass whose gts carry no weights scales every anchor by the
    image's coefficient without looking up gts; all-ones reg_weights take
    the per-anchor lookup: the same losses, bit for bit (mmdet's own
    sampler, 2 images, lam 0.3 and 0.8)."""
    head = build(frcnn_cfg, 'LossMixRPNHead', exact=exact)
    metas = [dict(IMG_META, mix_lambda=0.3), dict(IMG_META, mix_lambda=0.8)]
    torch.manual_seed(1)
    short = batch_losses(head, [mixed_gts(0.3), mixed_gts(0.8)], metas)
    torch.manual_seed(1)
    lookup = batch_losses(
        head, [mixed_gts(0.3, [1.0, 1.0]),
               mixed_gts(0.8, [1.0, 1.0])], metas)
    assert short == lookup
    assert short['loss_rpn_bbox'] > 0


# ------------------------------------------------- exact mode: single pass
@pytest.mark.parametrize('sampling', ['pseudo', 'band'])
def test_single_pass_is_eq14_where_every_candidate_is_sampled(
        frcnn_cfg, sampling):
    """A sampler that takes every candidate and mmdet's ignore band (IoU
    0.3 to 0.7): anchors the joint assignment ignores for the partner's box
    are negatives of the own term; exact=True gives lam * stock(y_i) +
    (1 - lam) * stock(y_j), as 'two_pass' does, bit for bit, on a batch of
    two mixed images (lam 0.3 and 0.8, the second image's partner box a
    pseudo-box), with anchors outside the image (allowed_border=0)."""
    lam = 0.3
    stock = sampled_head(frcnn_cfg, sampling, 'RPNHead')
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])], [IMG_META])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [0])], [IMG_META])
    head = sampled_head(frcnn_cfg, sampling, 'LossMixRPNHead', exact=True)
    got = batch_losses(head, [mixed_gts(lam)],
                       [dict(IMG_META, mix_lambda=lam)])
    for key in got:
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-6)
    gts = [mixed_gts(0.3), mixed_gts(0.8, [1.0, 0.0])]
    metas = [dict(IMG_META, mix_lambda=0.3), dict(IMG_META, mix_lambda=0.8)]
    heads = {}
    for exact in ('two_pass', 'single_pass'):
        heads[exact] = sampled_head(
            frcnn_cfg, sampling, 'LossMixRPNHead', exact=exact)
        heads[exact].train_cfg.allowed_border = 0
    torch.manual_seed(0)
    two = batch_losses(heads['two_pass'], gts, metas)
    torch.manual_seed(0)
    assert batch_losses(heads['single_pass'], gts, metas) == two
    assert two['loss_rpn_bbox'] > 0


def test_single_pass_unmixed_equals_stock_random_sampler(frcnn_cfg):
    """lam = 1: the partner's boxes have no term, so no image is mixed and
    the head takes the stock loss on the own boxes, bit for bit (same
    seed, mmdet's RandomSampler)."""
    unmixed = mixed_gts(0.5)  # a partner box, but lam = 1 below
    gts = [unmixed, make_gts(GT_BOXES, [0, 0])]
    metas = [dict(IMG_META, mix_lambda=1.0)] * 2
    torch.manual_seed(3)
    got = batch_losses(
        build(frcnn_cfg, 'LossMixRPNHead', exact=True), gts, metas)
    torch.manual_seed(3)
    stock = batch_losses(
        build(frcnn_cfg, 'RPNHead'),
        [make_gts(GT_BOXES[:1], [0]),
         make_gts(GT_BOXES, [0, 0])], [IMG_META] * 2)
    assert got == stock  # exactly


def test_single_pass_assigns_every_anchor_once(frcnn_cfg):
    """mmdet's RandomSampler (256 anchors, half positive at most): per
    image one assignment of every anchor, against both images' boxes, then
    one per term of the sampled anchors only; the sample holds positives of
    both boxes, and each term is the stock loss of its boxes on it."""
    head = build(frcnn_cfg, 'LossMixRPNHead', exact=True)
    calls = []
    assign = head.assigner.assign

    def spy(pred_instances, gt_instances, *args, **kwargs):
        result = assign(pred_instances, gt_instances, *args, **kwargs)
        calls.append((len(pred_instances), gt_instances.bboxes.tolist(),
                      result.gt_inds.clone()))
        return result

    head.assigner.assign = spy
    lam = 0.3
    torch.manual_seed(1)
    got = batch_losses(head, [mixed_gts(lam)],
                       [dict(IMG_META, mix_lambda=lam)])
    (num_all, boxes_all, inds_all), own, partner = calls
    assert num_all == 1023 and boxes_all == GT_BOXES  # 64x64: every anchor
    assert own[1] == GT_BOXES[:1] and partner[1] == GT_BOXES[1:]
    num_sampled = own[0]
    assert num_sampled == partner[0] == 256  # enough negatives to fill 256
    assert set(inds_all[inds_all > 0].tolist()) == {1, 2}
    # both terms find positives for their box among the sampled anchors
    assert (own[2] > 0).sum() >= 1 and (partner[2] > 0).sum() >= 1
    assert torch.isfinite(torch.tensor(list(got.values()))).all()


def test_single_pass_refuses_gts_as_proposals(frcnn_cfg):
    head = build(frcnn_cfg, 'LossMixRPNHead', exact=True)
    head.sampler.add_gt_as_proposals = True
    with pytest.raises(ValueError, match='add_gt_as_proposals=False'):
        batch_losses(head, [mixed_gts(0.5)], [dict(IMG_META, mix_lambda=0.5)])


def test_samples_every_candidate_by_hand():
    """Which samplers keep every candidate of an image of 1023 anchors."""
    from mmdet.registry import TASK_UTILS

    from lossmix_mm.models.dense_heads.rpn_single_pass import \
        samples_every_candidate

    def sampler(**kwargs):
        return TASK_UTILS.build(dict(type='RandomSampler', **kwargs))

    assert samples_every_candidate(
        TASK_UTILS.build(dict(type='PseudoSampler')), 1023)
    assert samples_every_candidate(
        sampler(num=1023, pos_fraction=1.0, neg_pos_ub=-1), 1023)
    assert not samples_every_candidate(
        sampler(num=1023, pos_fraction=0.5, neg_pos_ub=-1), 1023)
    assert not samples_every_candidate(
        sampler(num=4096, pos_fraction=1.0, neg_pos_ub=3), 1023)
    assert not samples_every_candidate(
        sampler(num=256, pos_fraction=0.5, neg_pos_ub=-1), 1023)
