"""LossMixCascadeRoIHead against mmdet's CascadeRoIHead."""
import copy
import re

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.hub import get_config
from mmengine.structures import InstanceData

from lossmix_mm.models.roi_heads import LossMixCascadeRoIHead, LossMixRoIHead
from lossmix_test_utils import make_mask_gts, rand_feats

GT_BOXES = [[4, 4, 30, 36], [30, 20, 60, 50]]
LABELS = [0, 2]
STAGES = ('s0', 's1', 's2')


def assert_eq14(got, ref_own, ref_partner, lam):
    """Every stage's losses are lam * own + (1 - lam) * partner (Eq. 14)."""
    for stage in STAGES:
        for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
            key = f'{stage}.{key}'
            assert ref_own[key] > 0 and ref_partner[key] > 0
            assert got[key] == pytest.approx(
                lam * ref_own[key] + (1 - lam) * ref_partner[key], rel=1e-5)


def tiny(path, with_mask):
    roi = copy.deepcopy(get_config(path).model.roi_head)
    roi.bbox_roi_extractor.out_channels = 8
    for head in roi.bbox_head:
        head.update(in_channels=8, fc_out_channels=16, num_classes=3)
    if with_mask:
        roi.mask_roi_extractor.out_channels = 8
        roi.mask_head.update(in_channels=8, conv_out_channels=8, num_classes=3)
    cfg = get_config(path).model
    return roi, cfg.train_cfg.rcnn, cfg.test_cfg.rcnn


@pytest.fixture(scope='module')
def cascade_cfg():
    return tiny('mmdet::_base_/models/cascade-rcnn_r50_fpn.py', False)


@pytest.fixture(scope='module')
def cascade_mask_cfg():
    return tiny('mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py', True)


def build(cfgs, type_, sampler=None, **kwargs):
    roi, train_cfg, test_cfg = copy.deepcopy(cfgs)
    if sampler is not None:
        for stage in train_cfg:
            stage.sampler = dict(type=sampler)
    roi.update(type=type_, train_cfg=train_cfg, test_cfg=test_cfg, **kwargs)
    torch.manual_seed(0)
    return MODELS.build(roi)


def proposals(seed=0, num=60, boxes=()):
    """``num`` random boxes after ``boxes`` (e.g. the gts)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=g) * 40
    wh = torch.rand(num, 2, generator=g) * 24 + 4
    bboxes = torch.cat([xy, (xy + wh).clamp(max=64)], dim=1)
    bboxes = torch.cat([torch.tensor(boxes).reshape(-1, 4).float(), bboxes])
    return InstanceData(bboxes=bboxes, scores=torch.rand(len(bboxes)))


def losses(head, gts_list, metas=None, boxes=()):
    """Loss values of a batch, image b with features and proposals of seed
    b (``boxes`` first)."""
    metas = metas or [{}] * len(gts_list)
    samples = []
    for gts, meta in zip(gts_list, metas):
        sample = DetDataSample(metainfo=dict(img_shape=(64, 64), **meta))
        sample.gt_instances = gts
        samples.append(sample)
    feats = [
        torch.cat(level) for level in zip(*[
            rand_feats(b, strides=(4, 8, 16, 32))
            for b in range(len(gts_list))
        ])
    ]
    torch.manual_seed(1)  # RandomSampler
    out = head.loss(feats,
                    [proposals(b, boxes=boxes) for b in range(len(gts_list))],
                    samples)
    return {k: v.item() for k, v in out.items()}


def test_registered_and_flagged():
    assert MODELS.get('LossMixCascadeRoIHead') is LossMixCascadeRoIHead
    assert LossMixCascadeRoIHead.reads_loss_weights is True
    assert LossMixRoIHead.reads_loss_weights is True


@pytest.mark.parametrize('weights', [None, [1.0, 1.0]])
@pytest.mark.parametrize('with_mask', [False, True])
def test_equals_stock_cascade(cascade_cfg, cascade_mask_cfg, weights,
                              with_mask):
    cfgs = cascade_mask_cfg if with_mask else cascade_cfg
    gts = make_mask_gts(GT_BOXES, LABELS)
    ref = losses(build(cfgs, 'CascadeRoIHead'), [gts])
    got = losses(
        build(cfgs, 'LossMixCascadeRoIHead'),
        [make_mask_gts(GT_BOXES, LABELS, weights)])
    assert got == ref  # exactly
    for stage in STAGES:
        assert ref[f'{stage}.loss_bbox'] > 0
        assert (f'{stage}.loss_mask' in ref) == with_mask


@pytest.mark.parametrize('with_mask', [False, True])
def test_single_gt_weight_scales_every_stage(cascade_cfg, cascade_mask_cfg,
                                             with_mask):
    cfgs = cascade_mask_cfg if with_mask else cascade_cfg
    head = build(cfgs, 'LossMixCascadeRoIHead')
    ref = losses(head, [make_mask_gts(GT_BOXES[:1], [1])])
    got = losses(head, [make_mask_gts(GT_BOXES[:1], [1], [0.3])])
    keys = ('loss_bbox', 'loss_mask') if with_mask else ('loss_bbox', )
    for stage in STAGES:
        for key in keys:
            assert got[f'{stage}.{key}'] == pytest.approx(
                0.3 * ref[f'{stage}.{key}'], rel=1e-6)
        assert got[f'{stage}.loss_cls'] < ref[f'{stage}.loss_cls']
        assert got[f'{stage}.acc'] == ref[f'{stage}.acc']


def test_every_stage_is_linear_in_each_gt_weight(cascade_mask_cfg):
    """loss(w0, w1) = L_rest + w0 L_0 + w1 L_1 at every stage, for every
    loss: the RoIs and normalisers do not depend on the weights."""
    head = build(cascade_mask_cfg, 'LossMixCascadeRoIHead')

    def f(w0, w1):
        return losses(head, [make_mask_gts(GT_BOXES, LABELS, [w0, w1])])

    full, half0, half1, target = f(1, 1), f(0.5, 1), f(1, 0.5), f(0.2, 0.7)
    for stage in STAGES:
        for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
            key = f'{stage}.{key}'
            part0 = 2 * (full[key] - half0[key])
            part1 = 2 * (full[key] - half1[key])
            assert part0 > 0 and part1 > 0
            assert target[key] == pytest.approx(
                full[key] - 0.8 * part0 - 0.3 * part1, rel=1e-5)


def test_mix_flags(cascade_mask_cfg):
    ref = losses(
        build(cascade_mask_cfg, 'CascadeRoIHead'),
        [make_mask_gts(GT_BOXES, LABELS)])
    gts = [make_mask_gts(GT_BOXES, LABELS, [0.3, 0.6])]
    no_reg = losses(
        build(cascade_mask_cfg, 'LossMixCascadeRoIHead', mix_reg=False), gts)
    no_cls = losses(
        build(cascade_mask_cfg, 'LossMixCascadeRoIHead', mix_cls=False), gts)
    no_mask = losses(
        build(cascade_mask_cfg, 'LossMixCascadeRoIHead', mix_mask=False), gts)
    for stage in STAGES:
        assert no_reg[f'{stage}.loss_bbox'] == ref[f'{stage}.loss_bbox']
        assert no_reg[f'{stage}.loss_cls'] < ref[f'{stage}.loss_cls']
        assert no_cls[f'{stage}.loss_cls'] == ref[f'{stage}.loss_cls']
        assert no_cls[f'{stage}.loss_bbox'] < ref[f'{stage}.loss_bbox']
        assert no_mask[f'{stage}.loss_mask'] == ref[f'{stage}.loss_mask']
        assert no_reg[f'{stage}.loss_mask'] < ref[f'{stage}.loss_mask']


def test_reg_weights_every_stage(cascade_cfg):
    """reg weight 0 on both gts: no box regression at any stage, the
    classification stock."""
    gts = make_mask_gts(GT_BOXES, LABELS)
    gts.reg_weights = torch.zeros(2)
    ref = losses(
        build(cascade_cfg, 'CascadeRoIHead'),
        [make_mask_gts(GT_BOXES, LABELS)])
    got = losses(build(cascade_cfg, 'LossMixCascadeRoIHead'), [gts])
    for stage in STAGES:
        assert got[f'{stage}.loss_bbox'] == 0
        assert got[f'{stage}.loss_cls'] == ref[f'{stage}.loss_cls']


@pytest.mark.parametrize('num_imgs', [1, 2])
def test_exact_mode_is_eq14_per_stage(cascade_mask_cfg, num_imgs):
    """exact: lam * cascade(y_i) + (1 - lam) * cascade(y_j), each stage's
    losses; PseudoSampler at every stage, so every pass samples the same
    RoIs as the stock head on that label set; the gt boxes are among the
    proposals, so every stage of both passes has positives."""
    lam = 0.7
    own = make_mask_gts(GT_BOXES[:1], LABELS[:1])
    partner = make_mask_gts(GT_BOXES[1:], LABELS[1:])
    mixed = make_mask_gts(GT_BOXES, LABELS, [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    stock = build(cascade_mask_cfg, 'CascadeRoIHead', 'PseudoSampler')
    ref_own = losses(stock, [own] * num_imgs, boxes=GT_BOXES)
    ref_partner = losses(stock, [partner] * num_imgs, boxes=GT_BOXES)
    got = losses(
        build(
            cascade_mask_cfg,
            'LossMixCascadeRoIHead',
            'PseudoSampler',
            exact=True), [mixed] * num_imgs, [dict(mix_lambda=lam)] * num_imgs,
        boxes=GT_BOXES)
    assert set(got) == set(ref_own)
    assert_eq14(got, ref_own, ref_partner, lam)
    weighted = losses(
        build(cascade_mask_cfg, 'LossMixCascadeRoIHead', 'PseudoSampler'),
        [mixed] * num_imgs,
        boxes=GT_BOXES)
    assert weighted['s0.loss_cls'] != pytest.approx(got['s0.loss_cls'])


def test_exact_modes_of_the_cascade(cascade_cfg):
    """The cascade keeps the two-pass definition: exact=True is
    'two_pass'; 'single_pass' is refused with the valid values."""
    head = build(cascade_cfg, 'LossMixCascadeRoIHead', exact=True)
    assert (head.exact, head.exact_mode) == (True, 'two_pass')
    assert build(
        cascade_cfg, 'LossMixCascadeRoIHead',
        exact='two_pass').exact_mode == 'two_pass'
    with pytest.raises(
            ValueError,
            match=(r"LossMixCascadeRoIHead exact must be one of False, True, "
                   r"'two_pass', got 'single_pass'")):
        build(cascade_cfg, 'LossMixCascadeRoIHead', exact='single_pass')


@pytest.mark.parametrize('exact', [True, 'two_pass'])
def test_exact_mode_with_ignore_band_is_eq14(cascade_mask_cfg, exact):
    """Every stage with an ignore band (neg_iou_thr 0.1 below its
    pos_iou_thr) and PseudoSampler, one image with an own and a partner
    box: every stage's losses are lam * stock(y_i) + (1 - lam) *
    stock(y_j)."""
    lam = 0.3
    cfgs = copy.deepcopy(cascade_mask_cfg)
    for stage in cfgs[1]:
        stage.assigner.update(neg_iou_thr=stage.assigner.pos_iou_thr - 0.1)
    own = make_mask_gts(GT_BOXES[:1], LABELS[:1])
    partner = make_mask_gts(GT_BOXES[1:], LABELS[1:])
    mixed = make_mask_gts(GT_BOXES, LABELS, [lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 1])
    stock = build(cfgs, 'CascadeRoIHead', 'PseudoSampler')
    ref_own = losses(stock, [own], boxes=GT_BOXES)
    ref_partner = losses(stock, [partner], boxes=GT_BOXES)
    got = losses(
        build(cfgs, 'LossMixCascadeRoIHead', 'PseudoSampler', exact=exact),
        [mixed], [dict(mix_lambda=lam)],
        boxes=GT_BOXES)
    assert_eq14(got, ref_own, ref_partner, lam)


def test_label_out_of_range_and_mix_group(cascade_cfg):
    sample = DetDataSample(
        metainfo=dict(img_shape=(64, 64), img_path='c.png', mix_lambda=0.5))
    sample.gt_instances = make_mask_gts(GT_BOXES, [0, 3])
    feats = rand_feats(0, strides=(4, 8, 16, 32))
    with pytest.raises(
            ValueError,
            match=re.escape(
                "gt label 3 of image 'c.png' is out of range: labels must "
                'be in [0, 3) for a head of num_classes=3')):
        build(cascade_cfg,
              'LossMixCascadeRoIHead').loss(feats, [proposals()], [sample])
    sample.gt_instances = make_mask_gts(GT_BOXES, LABELS, [0.5, 0.5])
    sample.gt_instances.mix_group = torch.tensor([0, -1])
    with pytest.raises(
            ValueError,
            match="mix_group of image 'c.png' must "
            r'be 0 \(own image\) or 1 \(partner\), got -1'):
        build(
            cascade_cfg, 'LossMixCascadeRoIHead',
            exact=True).loss(feats, [proposals()], [sample])
