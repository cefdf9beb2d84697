"""LossMixRoIHead with a mask head (Mask R-CNN) against stock mmdet."""
import copy

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.hub import get_config
from mmengine.structures import InstanceData

from lossmix_mm.datasets.transforms import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes
from lossmix_test_utils import make_mask_gts, rand_feats

GT_BOXES = [[4, 4, 30, 36], [30, 20, 60, 50], [8, 40, 28, 62]]
LABELS = [0, 2, 1]


@pytest.fixture(scope='module')
def mask_cfg():
    """mmdet's Mask R-CNN R50-FPN settings with tiny channels."""
    model = copy.deepcopy(
        get_config('mmdet::_base_/models/mask-rcnn_r50_fpn.py').model)
    model.backbone.update(depth=18, base_channels=8, init_cfg=None)
    model.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    model.rpn_head.update(in_channels=8, feat_channels=8)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = 8
    roi.bbox_head.update(in_channels=8, fc_out_channels=16, num_classes=3)
    roi.mask_roi_extractor.out_channels = 8
    roi.mask_head.update(in_channels=8, conv_out_channels=8, num_classes=3)
    return model


def build(mask_cfg, type_, sampler=None, **kwargs):
    cfg = copy.deepcopy(mask_cfg.roi_head)
    train_cfg = copy.deepcopy(mask_cfg.train_cfg.rcnn)
    if sampler is not None:
        train_cfg.sampler = dict(type=sampler)
    cfg.update(
        type=type_,
        train_cfg=train_cfg,
        test_cfg=mask_cfg.test_cfg.rcnn,
        **kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def proposals(seed=0, num=60, boxes=()):
    """``num`` random boxes after ``boxes`` (e.g. the gts)."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=g) * 40
    wh = torch.rand(num, 2, generator=g) * 24 + 4
    bboxes = torch.cat([xy, (xy + wh).clamp(max=64)], dim=1)
    bboxes = torch.cat([torch.tensor(boxes).reshape(-1, 4).float(), bboxes])
    return InstanceData(bboxes=bboxes, scores=torch.rand(len(bboxes)))


def losses(head, gts_list, props=None, metas=None):
    """Loss values of a batch; image b has features and proposals of seed
    b unless ``props`` (a proposal list) is given."""
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
    if props is None:
        props = [proposals(b) for b in range(len(gts_list))]
    torch.manual_seed(1)  # RandomSampler
    out = head.loss(feats, copy.deepcopy(props), samples)
    return {k: v.item() for k, v in out.items()}


@pytest.mark.parametrize('weights', [None, [1.0, 1.0, 1.0]])
def test_equals_stock_mask_head(mask_cfg, weights):
    ref = losses(
        build(mask_cfg, 'StandardRoIHead'), [make_mask_gts(GT_BOXES, LABELS)])
    got = losses(
        build(mask_cfg, 'LossMixRoIHead'),
        [make_mask_gts(GT_BOXES, LABELS, weights)])
    assert got == ref  # exactly
    assert set(ref) == {'loss_cls', 'loss_bbox', 'acc', 'loss_mask'}
    assert ref['loss_mask'] > 0


def test_single_gt_weight_scales_mask_loss(mask_cfg):
    head = build(mask_cfg, 'LossMixRoIHead')
    ref = losses(head, [make_mask_gts(GT_BOXES[:1], [1])])
    got = losses(head, [make_mask_gts(GT_BOXES[:1], [1], [0.3])])
    for key in ('loss_mask', 'loss_bbox'):
        assert got[key] == pytest.approx(0.3 * ref[key], rel=1e-6)
    assert got['acc'] == ref['acc']


def test_mask_loss_by_hand_per_gt(mask_cfg):
    """The gts are the proposals and PseudoSampler takes them all: RoI k is
    gt k's box, positive for gt k only, and its mask loss l_k is the stock
    loss of a head trained on gt k alone. Weights (w0, w0, w1), one stock
    call per weight: (w0 l_0 + w0 l_1 + w1 l_2) / 3."""
    stock = build(mask_cfg, 'StandardRoIHead', 'PseudoSampler')
    per_gt = [
        losses(stock, [make_mask_gts([box], [label])],
               [proposals(num=0, boxes=[box])])['loss_mask']
        for box, label in zip(GT_BOXES, LABELS)
    ]
    w = [0.3, 0.3, 0.8]
    got = losses(
        build(mask_cfg, 'LossMixRoIHead',
              'PseudoSampler'), [make_mask_gts(GT_BOXES, LABELS, w)],
        [proposals(num=0, boxes=GT_BOXES)])
    expected = sum(wk * lk for wk, lk in zip(w, per_gt)) / 3
    assert min(per_gt) > 0
    assert got['loss_mask'] == pytest.approx(expected, rel=1e-5)


def test_mix_mask_flag(mask_cfg):
    gts = [make_mask_gts(GT_BOXES, LABELS, [0.3, 0.6, 0.9])]
    ref = losses(
        build(mask_cfg, 'StandardRoIHead'), [make_mask_gts(GT_BOXES, LABELS)])
    weighted = losses(build(mask_cfg, 'LossMixRoIHead'), gts)
    no_mask = losses(build(mask_cfg, 'LossMixRoIHead', mix_mask=False), gts)
    assert no_mask['loss_mask'] == ref['loss_mask']
    assert weighted['loss_mask'] < ref['loss_mask']
    assert no_mask['loss_bbox'] == weighted['loss_bbox'] < ref['loss_bbox']
    # mask weights follow loss_weights only, not mix_cls / mix_reg
    only_mask = losses(
        build(mask_cfg, 'LossMixRoIHead', mix_cls=False, mix_reg=False), gts)
    assert only_mask['loss_mask'] == weighted['loss_mask']
    assert only_mask['loss_bbox'] == ref['loss_bbox']
    with pytest.raises(ValueError, match='mix_mask=True'):
        build(mask_cfg, 'LossMixRoIHead', exact=True, mix_mask=False)


def test_reg_weights_do_not_reach_masks(mask_cfg):
    gts = make_mask_gts(GT_BOXES, LABELS)
    gts.reg_weights = torch.tensor([0.0, 1.0, 0.0])
    ref = losses(
        build(mask_cfg, 'StandardRoIHead'), [make_mask_gts(GT_BOXES, LABELS)])
    got = losses(build(mask_cfg, 'LossMixRoIHead'), [gts])
    assert got['loss_mask'] == ref['loss_mask']
    assert got['loss_bbox'] < ref['loss_bbox']


@pytest.mark.parametrize('num_imgs', [1, 2])
def test_exact_mode_with_masks_is_eq14(mask_cfg, num_imgs):
    """exact: lam * stock(y_i) + (1 - lam) * stock(y_j) for every loss,
    the mask loss included (PseudoSampler: fixed RoIs in both passes)."""
    lam = 0.7
    own = make_mask_gts(GT_BOXES[:2], LABELS[:2])
    partner = make_mask_gts(GT_BOXES[2:], LABELS[2:])
    mixed = make_mask_gts(GT_BOXES, LABELS, [lam, lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 0, 1])
    props = [proposals(b, boxes=GT_BOXES) for b in range(num_imgs)]
    stock = build(mask_cfg, 'StandardRoIHead', 'PseudoSampler')
    ref_own = losses(stock, [own] * num_imgs, props)
    ref_partner = losses(stock, [partner] * num_imgs, props)
    got = losses(
        build(mask_cfg, 'LossMixRoIHead', 'PseudoSampler', exact=True),
        [mixed] * num_imgs, props, [dict(mix_lambda=lam)] * num_imgs)
    for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
        assert got[key] == pytest.approx(
            lam * ref_own[key] + (1 - lam) * ref_partner[key], rel=1e-5)
    assert ref_partner['loss_mask'] > 0


def test_exact_mode_partner_without_boxes(mask_cfg):
    """An empty partner pass has no positive RoI: mask loss lam * own."""
    lam = 0.6
    mixed = make_mask_gts(GT_BOXES, LABELS, [lam] * 3)
    mixed.mix_group = torch.tensor([0, 0, 0])
    props = [proposals(boxes=GT_BOXES)]
    stock = build(mask_cfg, 'StandardRoIHead', 'PseudoSampler')
    ref_own = losses(stock, [make_mask_gts(GT_BOXES, LABELS)], props)
    got = losses(
        build(mask_cfg, 'LossMixRoIHead', 'PseudoSampler', exact=True),
        [mixed], props, [dict(mix_lambda=lam)])
    assert got['loss_mask'] == pytest.approx(
        lam * ref_own['loss_mask'], rel=1e-5)


# ------------------------------------------------- whole Mask R-CNN
def batch(weighted):
    """Two 64x72 images with BitmapMasks gts; mixed weights if asked."""
    rng = np.random.RandomState(0)
    samples = []
    for i, boxes in enumerate(([[4, 6, 40, 50], [30, 10, 60,
                                                 40]], [[10, 10, 50, 60]])):
        n = len(boxes)
        masks = np.zeros((n, 64, 72), np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            masks[k, y1 + 2:y2 - 2, x1 + 2:x2 - 2] = 1
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
            gt_masks=BitmapMasks(masks, 64, 72),
            gt_ignore_flags=np.zeros(n, dtype=bool))
        if weighted:
            results.update(
                gt_bboxes=LossMixBoxes(
                    np.array(boxes, np.float32),
                    loss_weights=np.array([0.7, 0.3][:n], np.float32),
                    mix_group=np.arange(n, dtype=np.int64)),
                mix_lambda=0.7)
        samples.append(PackLossMixInputs()(results))
    return dict(
        inputs=[s['inputs'] for s in samples],
        data_samples=[s['data_samples'] for s in samples])


def test_tiny_mask_rcnn_trains_two_iterations(mask_cfg):
    cfg = copy.deepcopy(mask_cfg)
    cfg.rpn_head.type = 'LossMixRPNHead'
    cfg.roi_head.type = 'LossMixRoIHead'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    data = batch(weighted=True)
    assert data['data_samples'][0].gt_instances.loss_weights.tolist() == \
        pytest.approx([0.7, 0.3])
    before = model.roi_head.mask_head.conv_logits.weight.detach().clone()
    for _ in range(2):
        packed = model.data_preprocessor(copy.deepcopy(data), True)
        loss, log = model.parse_losses(
            model.loss(packed['inputs'], packed['data_samples']))
        assert torch.isfinite(loss) and log['loss_mask'] > 0
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert not torch.equal(before, model.roi_head.mask_head.conv_logits.weight)


@pytest.mark.parametrize('share_roi_extractor', [False, True])
def test_single_pass_with_masks_equals_two_pass(mask_cfg, share_roi_extractor):
    """exact=True (one sample, one box and one mask forward) against
    exact='two_pass' when both sample every proposal (RandomSampler with a
    large num, no gts added): every loss agrees, the mask loss included;
    two images, lam 0.7 and 0.4, the second with a pseudo-box."""
    sampler = dict(
        type='RandomSampler',
        num=1000,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False)
    mixed = []
    for lam in (0.7, 0.4):
        gts = make_mask_gts(GT_BOXES, LABELS, [lam, lam, 1 - lam])
        gts.mix_group = torch.tensor([0, 0, 1])
        mixed.append(gts)
    mixed[1].reg_weights = torch.tensor([1.0, 0.0, 1.0])
    metas = [dict(mix_lambda=0.7), dict(mix_lambda=0.4)]
    props = [proposals(b, boxes=GT_BOXES) for b in range(2)]

    def run(exact):
        cfg = copy.deepcopy(mask_cfg.roi_head)
        train_cfg = copy.deepcopy(mask_cfg.train_cfg.rcnn)
        train_cfg.sampler = sampler
        if share_roi_extractor:
            cfg.pop('mask_roi_extractor')
            cfg.mask_head.update(num_convs=0)
            cfg.bbox_roi_extractor.roi_layer.output_size = 14
            cfg.bbox_head.roi_feat_size = 14
        cfg.update(
            type='LossMixRoIHead',
            train_cfg=train_cfg,
            test_cfg=mask_cfg.test_cfg.rcnn,
            exact=exact)
        torch.manual_seed(0)
        head = MODELS.build(cfg)
        assert head.share_roi_extractor is share_roi_extractor
        return losses(head, copy.deepcopy(mixed), props, metas)

    single, two = run(True), run('two_pass')
    assert set(single) == {'loss_cls', 'loss_bbox', 'acc', 'loss_mask'}
    assert single['loss_mask'] > 0
    assert single == pytest.approx(two, rel=1e-5)


# neg_iou_thr 0.3 < pos_iou_thr 0.5: proposals in the band for one image's
# boxes are ignored by a joint assignment but negatives of the other term.
BAND = dict(
    type='MaxIoUAssigner',
    pos_iou_thr=0.5,
    neg_iou_thr=0.3,
    min_pos_iou=0.5,
    match_low_quality=False,
    ignore_iof_thr=-1)


@pytest.mark.parametrize('share_roi_extractor', [False, True])
@pytest.mark.parametrize('exact', [True, 'two_pass'])
def test_exact_mode_with_masks_and_ignore_band_is_eq14(mask_cfg, exact,
                                                       share_roi_extractor):
    """One image, own boxes 0-1 and partner box 2, PseudoSampler: every
    loss of exact (both modes) is lam * stock(y_i) + (1 - lam) *
    stock(y_j)."""
    lam = 0.3
    props = [proposals(0)]
    assigner = TASK_UTILS.build(BAND)
    priors = InstanceData(priors=props[0].bboxes)
    joint = assigner.assign(priors, make_mask_gts(GT_BOXES, LABELS)).gt_inds
    own_only = assigner.assign(priors, make_mask_gts(GT_BOXES[:2],
                                                     LABELS[:2])).gt_inds
    assert int(((joint < 0) & (own_only == 0)).sum()) > 0

    def head(type_, **kwargs):
        cfg = copy.deepcopy(mask_cfg.roi_head)
        train_cfg = copy.deepcopy(mask_cfg.train_cfg.rcnn)
        train_cfg.update(assigner=BAND, sampler=dict(type='PseudoSampler'))
        if share_roi_extractor:
            cfg.pop('mask_roi_extractor')
            cfg.mask_head.update(num_convs=0)
            cfg.bbox_roi_extractor.roi_layer.output_size = 14
            cfg.bbox_head.roi_feat_size = 14
        cfg.update(
            type=type_,
            train_cfg=train_cfg,
            test_cfg=mask_cfg.test_cfg.rcnn,
            **kwargs)
        torch.manual_seed(0)
        return MODELS.build(cfg)

    mixed = make_mask_gts(GT_BOXES, LABELS, [lam, lam, 1 - lam])
    mixed.mix_group = torch.tensor([0, 0, 1])
    stock = head('StandardRoIHead')
    own = losses(stock, [make_mask_gts(GT_BOXES[:2], LABELS[:2])], props)
    partner = losses(stock, [make_mask_gts(GT_BOXES[2:], LABELS[2:])], props)
    got = losses(
        head('LossMixRoIHead', exact=exact), [mixed], props,
        [dict(mix_lambda=lam)])
    for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
        assert own[key] > 0 and partner[key] > 0
        assert got[key] == pytest.approx(
            lam * own[key] + (1 - lam) * partner[key], rel=1e-5)
