import copy
import re

import pytest
import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from lossmix_test_utils import make_gts, rand_feats

GT_BOXES = [[4, 4, 30, 36], [30, 20, 60, 50]]


def build(frcnn_cfg, type_, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    cfg.update(
        type=type_,
        train_cfg=frcnn_cfg.train_cfg.rcnn,
        test_cfg=frcnn_cfg.test_cfg.rcnn,
        **kwargs)
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
    ref = losses(
        build(frcnn_cfg, 'StandardRoIHead'), make_gts(GT_BOXES, [0, 2]))
    got = losses(
        build(frcnn_cfg, 'LossMixRoIHead'), make_gts(GT_BOXES, [0, 2],
                                                     weights))
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
    ref = losses(
        build(frcnn_cfg, 'StandardRoIHead'), make_gts(GT_BOXES, [0, 2]))
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
        losses(
            build(frcnn_cfg, 'LossMixRoIHead'),
            make_gts(GT_BOXES, [0, 2], [0.0, 1.0]))


def pseudo_sampled(frcnn_cfg, type_, **kwargs):
    """A head that trains on every proposal: no randomness."""
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rcnn)
    train_cfg.sampler = dict(type='PseudoSampler')
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rcnn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch_losses(head, gts_list, lam=None, metas=None, seeds=None):
    """Losses of a batch; ``metas`` (extra metainfo per image) override
    ``lam``; image b has features and proposals of ``seeds[b]`` (b)."""
    if metas is None:
        metas = [{} if lam is None else dict(mix_lambda=lam)] * len(gts_list)
    samples = []
    for gts, extra in zip(gts_list, metas):
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64), **extra))
        sample.gt_instances = gts
        samples.append(sample)
    seeds = range(len(gts_list)) if seeds is None else seeds
    feats = [
        torch.cat(level) for level in zip(
            *[rand_feats(seed, strides=(4, 8, 16, 32)) for seed in seeds])
    ]
    out = head.loss(feats, [proposals(seed) for seed in seeds], samples)
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
    assert got['acc'] == pytest.approx(
        (ref_own['acc'] + ref_partner['acc']) / 2)
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


# ------------------------------------------------ per-box regression weights
def with_reg(gts, reg_weights):
    gts.reg_weights = torch.tensor(reg_weights, dtype=torch.float32)
    return gts


def zeroed_stock(frcnn_cfg, gt_inds):
    """The stock head, whose positive RoIs assigned to ``gt_inds`` get bbox
    weight 0 (rows of an image: its positives, then its negatives)."""
    head = build(frcnn_cfg, 'StandardRoIHead')
    get_targets = head.bbox_head.get_targets

    def zeroed(sampling_results, rcnn_train_cfg, concat=True):
        labels, label_weights, bbox_targets, bbox_weights = get_targets(
            sampling_results, rcnn_train_cfg, concat)
        keep = torch.cat([
            torch.cat([
                ~torch.isin(res.pos_assigned_gt_inds, torch.tensor(gt_inds)),
                torch.zeros(len(res.neg_inds), dtype=torch.bool)
            ]) for res in sampling_results
        ])
        return labels, label_weights, bbox_targets, \
            bbox_weights * keep[:, None]

    head.bbox_head.get_targets = zeroed
    return head


def test_reg_weights_zero_pseudo_boxes(frcnn_cfg):
    """gt 0 a source box (reg 1), gt 1 a pseudo-box (reg 0), one image."""
    head = build(frcnn_cfg, 'LossMixRoIHead')
    stock = losses(
        build(frcnn_cfg, 'StandardRoIHead'), make_gts(GT_BOXES, [0, 2]))
    source_only = losses(
        zeroed_stock(frcnn_cfg, [1]), make_gts(GT_BOXES, [0, 2]))
    got = losses(head, with_reg(make_gts(GT_BOXES, [0, 2]), [1.0, 0.0]))
    assert got == source_only  # exactly
    assert got['loss_cls'] == stock['loss_cls']
    assert got['acc'] == stock['acc']
    # the two boxes' shares add up to the stock loss (same normaliser)
    other = losses(head, with_reg(make_gts(GT_BOXES, [0, 2]), [0.0, 1.0]))
    assert 0 < got['loss_bbox'] < stock['loss_bbox']
    assert got['loss_bbox'] + other['loss_bbox'] == pytest.approx(
        stock['loss_bbox'], rel=1e-6)
    ones = losses(head, with_reg(make_gts(GT_BOXES, [0, 2]), [1.0, 1.0]))
    assert ones == stock  # exactly


def test_reg_weights_on_top_of_loss_weights(frcnn_cfg):
    """loss weights (0.3, 0.7), reg weights (1, 0): the box loss is 0.3 x
    the source box's share, classification the weighted one."""
    lw = [0.3, 0.7]
    weighted = losses(
        build(frcnn_cfg, 'LossMixRoIHead'), make_gts(GT_BOXES, [0, 2], lw))
    source_only = losses(
        zeroed_stock(frcnn_cfg, [1]), make_gts(GT_BOXES, [0, 2]))
    got = losses(
        build(frcnn_cfg, 'LossMixRoIHead'),
        with_reg(make_gts(GT_BOXES, [0, 2], lw), [1.0, 0.0]))
    assert got['loss_cls'] == weighted['loss_cls']
    assert got['loss_bbox'] == pytest.approx(
        0.3 * source_only['loss_bbox'], rel=1e-6)
    # mix_reg=False: loss weights leave the box loss, reg_weights do not
    no_reg = losses(
        build(frcnn_cfg, 'LossMixRoIHead', mix_reg=False),
        with_reg(make_gts(GT_BOXES, [0, 2], lw), [1.0, 0.0]))
    assert no_reg['loss_bbox'] == source_only['loss_bbox']
    assert no_reg['loss_cls'] == weighted['loss_cls']
    both_off = losses(
        build(frcnn_cfg, 'LossMixRoIHead', mix_cls=False, mix_reg=False),
        with_reg(make_gts(GT_BOXES, [0, 2], lw), [1.0, 0.0]))
    assert both_off == source_only


@pytest.mark.parametrize('bad', [[-1.0, 1.0], [float('nan'), 1.0]])
def test_bad_reg_weights_raise(frcnn_cfg, bad):
    with pytest.raises(ValueError, match='reg_weights must be finite'):
        losses(
            build(frcnn_cfg, 'LossMixRoIHead'),
            with_reg(make_gts(GT_BOXES, [0, 2]), bad))


# ------------------------------------------- exact mode: batches and modes
# PseudoSampler trains on every proposal (the rcnn assigner has no ignore
# band): every image has 60 sampled RoIs in every pass, so BBoxHead's
# normalisers (sampled RoIs; label_weights > 0) are 60 per image.
def mixed_gts(lam, reg_weights=None):
    gts = make_gts(GT_BOXES, [0, 2], [lam, 1 - lam])
    gts.mix_group = torch.tensor([0, 1])
    if reg_weights is not None:
        with_reg(gts, reg_weights)
    return gts


def test_exact_mode_mixed_and_unmixed_batch(frcnn_cfg):
    """[mixed, unmixed] = the mean of the two one-image batches: the partner
    pass holds one image of two and counts half."""
    lam = 0.3
    plain = make_gts(GT_BOXES[1:], [1])
    metas = [dict(mix_lambda=lam, mix_mode='lossmix'), dict(mix_lambda=1.0)]
    head = pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True)
    one = batch_losses(head, [mixed_gts(lam)], metas=metas[:1], seeds=[0])
    two = batch_losses(head, [plain], metas=metas[1:], seeds=[1])
    got = batch_losses(
        head, [mixed_gts(lam), plain], metas=metas, seeds=[0, 1])
    for key in ('loss_cls', 'loss_bbox'):
        assert got[key] == pytest.approx((one[key] + two[key]) / 2, rel=1e-5)


@pytest.mark.parametrize('mode', [None, 'lossmix', 'union', 'noise'])
def test_exact_mode_honours_mix_mode(frcnn_cfg, mode):
    """lossmix (and no mode): lam L(y_i) + (1 - lam) L(y_j); union:
    L(y_i) + L(y_j); noise: L(y_i), the partner's boxes ignored."""
    lam = 0.8
    stock = pseudo_sampled(frcnn_cfg, 'StandardRoIHead')
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [2])])
    meta = dict(mix_lambda=lam)
    if mode is not None:
        meta['mix_mode'] = mode
    got = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True),
        [mixed_gts(lam)],
        metas=[meta])
    c_own, c_partner = dict(
        union=(1, 1), noise=(1, 0)).get(mode, (lam, 1 - lam))
    for key in ('loss_cls', 'loss_bbox'):
        assert got[key] == pytest.approx(
            c_own * own[key] + c_partner * partner[key], rel=1e-5)


def test_exact_mode_unknown_mix_mode(frcnn_cfg):
    head = pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True)
    with pytest.raises(
            ValueError,
            match=r"mode must be one of "
            r"\('lossmix', 'union', 'noise'\), got 'mixup'"):
        batch_losses(
            head, [mixed_gts(0.5)],
            metas=[dict(mix_lambda=0.5, mix_mode='mixup')])


def test_exact_mode_keeps_reg_weights(frcnn_cfg):
    """The partner's box is a pseudo-box (reg 0): its pass trains
    classification only."""
    lam = 0.3
    stock = pseudo_sampled(frcnn_cfg, 'StandardRoIHead')
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [2])])
    got = batch_losses(
        pseudo_sampled(frcnn_cfg, 'LossMixRoIHead', exact=True),
        [mixed_gts(lam, [1.0, 0.0])], lam)
    assert got['loss_cls'] == pytest.approx(
        lam * own['loss_cls'] + (1 - lam) * partner['loss_cls'], rel=1e-5)
    assert partner['loss_bbox'] > 0
    assert got['loss_bbox'] == pytest.approx(lam * own['loss_bbox'], rel=1e-5)


# ------------------------------- exact mode: single pass against two passes
# exact=True (= 'single_pass') samples once and scores the shared RoIs
# against both label sets; exact='two_pass' samples once per label set. A
# RandomSampler whose num exceeds the proposals (60 per image) and that adds
# no gts takes every proposal in both: the two must then agree.
def all_sampled(frcnn_cfg, type_, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rcnn)
    train_cfg.sampler = dict(
        type='RandomSampler',
        num=1000,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False)
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rcnn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def empty_partner_gts(lam):
    gts = make_gts(GT_BOXES, [0, 2], [lam, lam])
    gts.mix_group = torch.tensor([0, 0])
    return gts


SINGLE_VS_TWO = {
    'lam0.3': ([lambda: mixed_gts(0.3)], [dict(mix_lambda=0.3)]),
    'two_lams': ([lambda: mixed_gts(0.3), lambda: mixed_gts(0.8)],
                 [dict(mix_lambda=0.3),
                  dict(mix_lambda=0.8)]),
    'one_unmixed':
    ([lambda: mixed_gts(0.3),
      lambda: make_gts(GT_BOXES[1:], [1])], [dict(mix_lambda=0.3), {}]),
    'empty_partner':
    ([lambda: empty_partner_gts(0.6)], [dict(mix_lambda=0.6)]),
    'union': ([lambda: mixed_gts(0.4), lambda: mixed_gts(0.9)], [
        dict(mix_lambda=0.4, mix_mode='union'),
        dict(mix_lambda=0.9, mix_mode='union')
    ]),
    'union_and_unmixed':
    ([lambda: mixed_gts(0.4), lambda: make_gts(GT_BOXES, [0, 2])], [
        dict(mix_lambda=0.4, mix_mode='union'),
        dict(mix_lambda=1.0, mix_mode='union')
    ]),
    'reg_weights':
    ([lambda: mixed_gts(0.3, [1.0, 0.0])], [dict(mix_lambda=0.3)]),
}


@pytest.mark.parametrize('case', list(SINGLE_VS_TWO))
def test_single_pass_equals_two_pass(frcnn_cfg, case):
    makers, metas = SINGLE_VS_TWO[case]
    seeds = list(range(len(makers)))

    def run(exact):
        head = all_sampled(frcnn_cfg, 'LossMixRoIHead', exact=exact)
        return batch_losses(
            head, [make() for make in makers], metas=metas, seeds=seeds)

    single, two = run(True), run('two_pass')
    assert all_sampled(
        frcnn_cfg, 'LossMixRoIHead', exact=True).exact_mode == 'single_pass'
    assert single == pytest.approx(two, rel=1e-5)
    assert single['loss_cls'] > 0
    if case != 'empty_partner':
        assert single['loss_bbox'] > 0


def test_single_pass_equals_stock_on_unmixed_data(frcnn_cfg):
    """mmdet's own sampler (512 RoIs, gts added as proposals), 2 images
    without mixing metainfo: the stock losses."""
    gts = [make_gts(GT_BOXES, [0, 2]), make_gts(GT_BOXES[1:], [1])]
    torch.manual_seed(1)
    ref = batch_losses(build(frcnn_cfg, 'StandardRoIHead'), copy.deepcopy(gts))
    torch.manual_seed(1)
    got = batch_losses(
        build(frcnn_cfg, 'LossMixRoIHead', exact=True), copy.deepcopy(gts))
    assert got == pytest.approx(ref, rel=1e-6)
    assert ref['loss_bbox'] > 0


def test_single_pass_shares_one_sample_by_hand(frcnn_cfg):
    """No proposals; the sampler adds both images' gts: the shared sample is
    RoI 0 = own box, RoI 1 = partner box (IoU 0). Against y_i RoI 0 is
    positive and RoI 1 background, against y_j the reverse, so each term
    is the stock loss of its label set on the proposals [box 0, box 1]
    (two-pass would see one RoI per term, no background)."""
    lam = 0.3
    head = build(frcnn_cfg, 'LossMixRoIHead', exact=True)
    stock = pseudo_sampled(frcnn_cfg, 'StandardRoIHead')

    def run(head, gts, boxes, meta):
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64), **meta))
        sample.gt_instances = gts
        props = InstanceData(
            bboxes=torch.tensor(boxes).reshape(-1, 4).float(),
            scores=torch.ones(len(boxes)))
        out = head.loss(
            rand_feats(0, strides=(4, 8, 16, 32)), [props], [sample])
        return {k: v.item() for k, v in out.items()}

    own = run(stock, make_gts(GT_BOXES[:1], [0]), GT_BOXES, {})
    partner = run(stock, make_gts(GT_BOXES[1:], [2]), GT_BOXES, {})
    got = run(head, mixed_gts(lam), [], dict(mix_lambda=lam))
    for key in ('loss_cls', 'loss_bbox'):
        assert own[key] > 0 and partner[key] > 0
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)
    two = run(
        build(frcnn_cfg, 'LossMixRoIHead', exact='two_pass'), mixed_gts(lam),
        [], dict(mix_lambda=lam))
    assert two['loss_cls'] != pytest.approx(got['loss_cls'], rel=1e-3)


def test_single_pass_seeded_regression(frcnn_cfg):
    """mmdet's sampler on a mixed batch (lam 0.3 and 0.8): fixed values.
    The classifier gets seeded weights of std 0.3 (at mmdet's init, std
    0.01, every RoI's loss is about ln 4 whatever its label)."""
    head = build(frcnn_cfg, 'LossMixRoIHead', exact=True)
    torch.manual_seed(2)
    torch.nn.init.normal_(head.bbox_head.fc_cls.weight, std=0.3)
    torch.manual_seed(1)
    got = batch_losses(
        head, [mixed_gts(0.3), mixed_gts(0.8)],
        metas=[dict(mix_lambda=0.3),
               dict(mix_lambda=0.8)])
    assert got['loss_cls'] == pytest.approx(1.5090191, rel=1e-5)
    assert got['loss_bbox'] == pytest.approx(0.0978981, rel=1e-5)


@pytest.mark.parametrize('bad', ['single', 'two_passes', 2, None])
def test_exact_mode_names_are_checked(frcnn_cfg, bad):
    with pytest.raises(
            ValueError,
            match=(r"LossMixRoIHead exact must be one of False, True, "
                   r"'single_pass', 'two_pass', got " + re.escape(repr(bad)))):
        build(frcnn_cfg, 'LossMixRoIHead', exact=bad)
    assert build(frcnn_cfg, 'LossMixRoIHead').exact_mode is None
    assert build(frcnn_cfg, 'LossMixRoIHead', exact='two_pass').exact is True


# ------------------------------- exact mode with an assigner ignore band
# neg_iou_thr 0.3 < pos_iou_thr 0.5: a proposal whose best IoU over the
# gts of both images lies in [0.3, 0.5) is ignored by a joint assignment,
# yet it is a negative of the term whose own gts it barely touches.
BAND = dict(
    type='MaxIoUAssigner',
    pos_iou_thr=0.5,
    neg_iou_thr=0.3,
    min_pos_iou=0.5,
    match_low_quality=False,
    ignore_iof_thr=-1)
TAKE_ALL = {
    'pseudo':
    dict(type='PseudoSampler'),
    'all_kept':
    dict(
        type='RandomSampler',
        num=1000,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False),
}


def banded(frcnn_cfg, type_, sampler, **kwargs):
    cfg = copy.deepcopy(frcnn_cfg.roi_head)
    train_cfg = copy.deepcopy(frcnn_cfg.train_cfg.rcnn)
    train_cfg.update(assigner=BAND, sampler=TAKE_ALL[sampler])
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=frcnn_cfg.test_cfg.rcnn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def band_only_negatives(props, boxes=GT_BOXES):
    """How many proposals the joint assignment to ``boxes`` ignores but
    each box's own assignment makes negative (a joint-only sample would
    miss them)."""
    assigner = TASK_UTILS.build(BAND)
    props = InstanceData(priors=props.bboxes)
    joint = assigner.assign(props, make_gts(boxes, [0] * len(boxes))).gt_inds
    return [
        int(((joint < 0) & (assigner.assign(props, make_gts(
            [box], [0])).gt_inds == 0)).sum()) for box in boxes
    ]


@pytest.mark.parametrize('sampler', list(TAKE_ALL))
@pytest.mark.parametrize('exact', [True, 'two_pass'])
def test_exact_mode_with_ignore_band_is_eq14(frcnn_cfg, sampler, exact):
    """A sampler that takes every candidate: exact (both modes) equals
    lam * stock(y_i) + (1 - lam) * stock(y_j), ignore band included."""
    lam = 0.3
    assert min(band_only_negatives(proposals(0))) > 0
    stock = banded(frcnn_cfg, 'StandardRoIHead', sampler)
    own = batch_losses(stock, [make_gts(GT_BOXES[:1], [0])])
    partner = batch_losses(stock, [make_gts(GT_BOXES[1:], [2])])
    got = batch_losses(
        banded(frcnn_cfg, 'LossMixRoIHead', sampler, exact=exact),
        [mixed_gts(lam)], lam)
    for key in ('loss_cls', 'loss_bbox'):
        assert own[key] > 0 and partner[key] > 0
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)


def test_exact_mode_refuses_other_mix_groups(frcnn_cfg):
    gts = mixed_gts(0.3)
    gts.mix_group = torch.tensor([0, 2])
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(64, 64), mix_lambda=0.3, img_path='mixed.png'))
    sample.gt_instances = gts
    for exact in (True, 'two_pass'):
        head = build(frcnn_cfg, 'LossMixRoIHead', exact=exact)
        with pytest.raises(
                ValueError,
                match=re.escape(
                    "gt_instances.mix_group of image 'mixed.png' must be 0 "
                    '(own image) or 1 (partner), got 2')):
            head.loss(
                rand_feats(0, strides=(4, 8, 16, 32)), [proposals()], [sample])
    # outside exact mode the group is not read
    losses(build(frcnn_cfg, 'LossMixRoIHead'), gts)


@pytest.mark.parametrize('label', [3, 7, -1])
@pytest.mark.parametrize('exact', [False, True, 'two_pass'])
def test_label_out_of_range_names_image_label_and_classes(
        frcnn_cfg, label, exact):
    """num_classes=3: stock mmdet reads label 3 as background silently and
    fails deep in the loss on 7."""
    gts = make_gts(GT_BOXES, [0, label], [0.4, 0.6])
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), img_id=5))
    sample.gt_instances = gts
    head = build(frcnn_cfg, 'LossMixRoIHead', exact=exact)
    with pytest.raises(
            ValueError,
            match=re.escape(
                f'gt label {label} of image 5 is out of range: labels must be '
                'in [0, 3) for a head of num_classes=3')):
        head.loss(
            rand_feats(0, strides=(4, 8, 16, 32)), [proposals()], [sample])


@pytest.mark.parametrize(
    'box', [[30, 20, 10, 50], [4, 40, 30, 36], [4, 4, float('nan'), 36]])
def test_bad_gt_box_names_image_and_box(frcnn_cfg, box):
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), img_path='a.png'))
    sample.gt_instances = make_gts([GT_BOXES[0], box], [0, 1])
    with pytest.raises(
            ValueError,
            match=r"gt box 1 \[.*\] of image "
            r"'a.png' is not \(x1, y1, x2, y2\)"):
        build(frcnn_cfg, 'LossMixRoIHead').loss(
            rand_feats(0, strides=(4, 8, 16, 32)), [proposals()], [sample])
