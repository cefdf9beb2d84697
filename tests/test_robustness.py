"""Robustness sweep: edge cases through the real pipeline and heads.

Every case runs LossMixPair -> (a stock mmdet transform) ->
PackLossMixInputs -> DetDataPreprocessor (+ BatchLossMix) -> a tiny Faster
R-CNN (LossMixRPNHead / LossMixRoIHead, approximate and exact) or a tiny
RetinaNet (LossMixRetinaHead), and ends in a correct result (numbers derived
by hand or equal to stock mmdet's heads on the same data) or one
``ValueError`` naming the bad value: never a NaN loss, never a silent wrong
weight.
"""
import copy
import math
import re
from functools import lru_cache

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS, TRANSFORMS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.utils import register_all_modules
from mmengine.dataset import pseudo_collate
from mmengine.hub import get_config
from mmengine.structures import InstanceData

from lossmix_mm.datasets.transforms import LossMixPair, PackLossMixInputs
from lossmix_mm.mixing import check_mix_args, update_mix_args
from lossmix_mm.mixing.across import mix_across, mix_batch
from lossmix_mm.models.data_preprocessors import BatchLossMix
from lossmix_mm.models.utils import group_coefficients, mix_group_passes
from lossmix_mm.structures import LossMixBoxes

register_all_modules()

LAM = 0.3
BOX_A = [[4, 6, 30, 40]]  # own image's box (label 0)
BOX_B = [[12, 8, 44, 36]]  # partner's box (label 1)


# ------------------------------------------------------------------ models
@lru_cache(maxsize=None)
def _model_cfg(kind):
    if kind == 'frcnn':
        cfg = get_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py').model
        cfg.rpn_head.update(in_channels=8, feat_channels=8)
        cfg.roi_head.bbox_roi_extractor.out_channels = 8
        cfg.roi_head.bbox_head.update(
            in_channels=8, fc_out_channels=16, num_classes=3)
    else:
        cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py').model
        cfg.bbox_head.update(
            in_channels=8, feat_channels=8, stacked_convs=1, num_classes=3)
    cfg.backbone.update(depth=18, base_channels=8, init_cfg=None)
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=8)
    return cfg


@lru_cache(maxsize=None)
def model(kind, variant='approx'):
    """A tiny detector: ``kind`` 'frcnn' or 'retina'; ``variant`` 'stock'
    (mmdet's heads), 'approx' or 'exact' (LossMix heads); same parameters
    for every variant of a kind."""
    cfg = copy.deepcopy(_model_cfg(kind))
    heads = [cfg.rpn_head, cfg.roi_head] if kind == 'frcnn' else \
        [cfg.bbox_head]
    if variant != 'stock':
        for head, name in zip(heads, ('LossMixRPNHead',
                                      'LossMixRoIHead') if kind == 'frcnn' else
                              ('LossMixRetinaHead', )):
            head.type = name
            head.exact = variant == 'exact'
    torch.manual_seed(0)
    return MODELS.build(cfg)


DETECTORS = [('frcnn', 'approx'), ('frcnn', 'exact'), ('retina', 'approx'),
             ('retina', 'exact')]


def losses(detector, packed, augment=None):
    """Loss dict (floats) of packed samples; every value must be finite."""
    net = model(*detector) if isinstance(detector, tuple) else detector
    data = net.data_preprocessor(pseudo_collate(copy.deepcopy(packed)), True)
    if augment is not None:
        data['inputs'], data['data_samples'] = augment(data['inputs'],
                                                       data['data_samples'])
    torch.manual_seed(1)
    with torch.no_grad():
        out = net.loss(data['inputs'], data['data_samples'])
    out = {
        k: float(sum(v) if isinstance(v, (list, tuple)) else v)
        for k, v in out.items()
    }
    assert all(math.isfinite(v) for v in out.values()), out
    return out


# ------------------------------------------------------------------ data
def loaded(h=48,
           w=48,
           boxes=(),
           labels=None,
           ignore=None,
           path='own.png',
           channels=3,
           dtype=np.uint8,
           seed=0):
    """One image's results after loading (what LossMixPair receives)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.zeros(len(boxes)) if labels is None else labels
    shape = (h, w) if channels is None else (h, w, channels)
    img = np.random.RandomState(seed).randint(0, 256, shape).astype(dtype)
    return dict(
        img=img,
        img_id=seed,
        img_path=path,
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(len(boxes), bool)
        if ignore is None else np.asarray(ignore, bool))


def own(boxes=BOX_A, **kwargs):
    return loaded(boxes=boxes, labels=[0] * len(boxes), **kwargs)


def partner(boxes=BOX_B, **kwargs):
    kwargs.setdefault('path', 'partner.png')
    kwargs.setdefault('seed', 1)
    return loaded(boxes=boxes, labels=[1] * len(boxes), **kwargs)


def pair_results(own_results,
                 partner_results,
                 lam=LAM,
                 mode='lossmix',
                 after=()):
    """LossMixPair with a fixed lam, then the transforms ``after``."""
    transform = LossMixPair(mode=mode)
    transform.sample_lambda = lambda: lam
    results = dict(
        own_results, mix_results=[partner_results] if partner_results else [])
    results = transform(results)
    for cfg in after:
        results = TRANSFORMS.build(cfg)(results)
    return results


def pack(results, **kwargs):
    return PackLossMixInputs(**kwargs)(results)


def pair(own_results, partner_results, lam=LAM, **kwargs):
    return pack(pair_results(own_results, partner_results, lam, **kwargs))


def gt_of(packed, key='gt_instances'):
    return packed['data_samples'].get(key)


def assert_gts(gt, boxes, weights, groups):
    np.testing.assert_allclose(gt.bboxes.numpy().reshape(-1, 4),
                               np.asarray(boxes, np.float32).reshape(-1, 4))
    np.testing.assert_allclose(gt.loss_weights.numpy(), weights, rtol=1e-6)
    np.testing.assert_array_equal(gt.mix_group.numpy(), groups)


def with_gts(packed, gts):
    """A copy of a packed sample with other gts (stock heads' reference)."""
    packed = copy.deepcopy(packed)
    packed['data_samples'].gt_instances = gts
    return packed


def plain_gts(packed, keep=None):
    """The packed gts without LossMix fields (optionally a subset)."""
    gt = gt_of(packed)
    gt = gt if keep is None else gt[keep]
    return InstanceData(bboxes=gt.bboxes.clone(), labels=gt.labels.clone())


def batch_lossmix(lams, partner='reverse', mode='lossmix'):
    aug = BatchLossMix(mode=mode, partner=partner)
    aug.sample_lambdas = lambda num: torch.tensor(
        lams[:num], dtype=torch.float32)
    return aug


# ------------------------------------------------------------- empty gts
EMPTY_CASES = {
    # case: (own boxes, partner boxes, packed boxes, weights, groups)
    'own': ([], BOX_B, BOX_B, [1 - LAM], [1]),
    'partner': (BOX_A, [], BOX_A, [LAM], [0]),
    'both': ([], [], [], [], []),
}


@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
@pytest.mark.parametrize('empty', list(EMPTY_CASES))
def test_empty_gts_pair(empty, detector):
    own_boxes, partner_boxes, boxes, weights, groups = EMPTY_CASES[empty]
    packed = pair(own(own_boxes), partner(partner_boxes))
    assert_gts(gt_of(packed), boxes, weights, groups)
    got = losses(detector, [packed])
    kind, variant = detector
    empty_gts = plain_gts(packed, slice(0, 0))
    if variant == 'approx':
        # every gt weighs w: the box losses are stock's times w exactly,
        # 0 when nothing is left
        ref = losses((kind, 'stock'), [packed])
        w = weights[0] if weights else 0.0
        for key in ('loss_rpn_bbox', 'loss_bbox'):
            if key in ref:
                assert got[key] == pytest.approx(
                    w * ref[key], rel=1e-5, abs=1e-12)
        if empty == 'both':
            assert got == ref
    elif kind == 'retina':
        # Eq. 14 exactly (RetinaNet samples nothing at random):
        # lam * L(y_own) + (1 - lam) * L(y_partner)
        own_gts = plain_gts(packed) if empty == 'partner' else empty_gts
        partner_gts = plain_gts(packed) if empty == 'own' else empty_gts
        ref_own = losses((kind, 'stock'), [with_gts(packed, own_gts)])
        ref_partner = losses((kind, 'stock'), [with_gts(packed, partner_gts)])
        for key in got:
            assert got[key] == pytest.approx(
                LAM * ref_own[key] + (1 - LAM) * ref_partner[key], rel=1e-5)
    elif empty == 'both':
        assert got['loss_rpn_bbox'] == 0 and got['loss_bbox'] == 0
    else:
        assert got['loss_rpn_bbox'] > 0 and got['loss_bbox'] > 0


@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
def test_every_image_empty_in_batch(detector):
    """A batch of two images without gts, in-batch mixed: the stock losses
    of the mixed images (bbox losses 0) -- exactly, except for the exact
    Faster R-CNN, whose two passes sample their negatives apart."""
    packed = [pack(own([], seed=s)) for s in (0, 1)]
    got = losses(detector, packed, batch_lossmix([LAM, 0.6]))
    ref = losses((detector[0], 'stock'), packed, batch_lossmix([LAM, 0.6]))
    if detector == ('frcnn', 'exact'):
        assert got['loss_rpn_bbox'] == got['loss_bbox'] == 0
        assert got.keys() == ref.keys()
    else:
        assert got == pytest.approx(ref, rel=1e-5)
    assert all(v == 0 for k, v in ref.items() if 'bbox' in k)


def test_empty_gts_in_batch_weights():
    """In-batch: own empty (image 0), partner empty (image 1)."""
    packed = [pack(own([])), pack(partner())]
    aug = batch_lossmix([LAM, 0.6])
    pre = model('frcnn').data_preprocessor
    data = pre(pseudo_collate(packed), True)
    _, samples = aug(data['inputs'], data['data_samples'])
    assert_gts(samples[0].gt_instances, BOX_B, [1 - LAM], [1])
    assert_gts(samples[1].gt_instances, BOX_B, [0.6], [0])
    for detector in DETECTORS:
        losses(detector, packed, batch_lossmix([LAM, 0.6]))


# ----------------------------------------------------------- lam at 0, 1
@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
@pytest.mark.parametrize('lam', [0.0, 1.0])
def test_lam_at_0_and_1_pair(lam, detector):
    """Only the image that shows keeps its boxes, at weight 1: stock's
    losses on the same sample."""
    packed = pair(own(), partner(), lam=lam)
    boxes, group = (BOX_A, 0) if lam == 1 else (BOX_B, 1)
    assert_gts(gt_of(packed), boxes, [1.0], [group])
    assert packed['data_samples'].mix_lambda == lam
    ref = losses((detector[0], 'stock'), [packed])
    assert losses(detector, [packed]) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
def test_lam_at_0_and_1_in_batch(detector):
    packed = [pack(own()), pack(partner())]
    aug = batch_lossmix([0.0, 1.0])
    pre = model('frcnn').data_preprocessor
    data = pre(pseudo_collate(copy.deepcopy(packed)), True)
    _, samples = aug(data['inputs'], data['data_samples'])
    assert_gts(samples[0].gt_instances, BOX_B, [1.0], [1])
    assert_gts(samples[1].gt_instances, BOX_B, [1.0], [0])
    assert [s.mix_lambda for s in samples] == [0.0, 1.0]
    ref = losses((detector[0], 'stock'), packed, batch_lossmix([0.0, 1.0]))
    got = losses(detector, packed, batch_lossmix([0.0, 1.0]))
    assert got == pytest.approx(ref, rel=1e-6)


# ------------------------------------------------------------ batch of one
@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
@pytest.mark.parametrize('partner_order', ['random', 'permutation', 'shift'])
def test_batch_of_one_in_batch(partner_order, detector):
    """One image: left unmixed (lam 1, weights 1), stock's losses."""
    aug = BatchLossMix(partner=partner_order)  # real lambdas
    packed = [pack(pair_results(own(), None))]
    got = losses(detector, packed, aug)
    assert got == losses((detector[0], 'stock'), packed)
    pre = model('frcnn').data_preprocessor
    data = pre(pseudo_collate(copy.deepcopy(packed)), True)
    inputs, samples = aug(data['inputs'], data['data_samples'])
    assert torch.equal(inputs, data['inputs'])
    assert samples[0].mix_lambda == 1.0
    assert_gts(samples[0].gt_instances, BOX_A, [1.0], [0])


@pytest.mark.parametrize('partner_order', ['random', 'permutation', 'shift'])
def test_empty_batch_in_batch(partner_order):
    """No image: nothing to mix, the batch comes back as it is."""
    inputs = torch.zeros(0, 3, 8, 8)
    out, samples = BatchLossMix(partner=partner_order)(inputs, [])
    assert out is inputs and samples == []


# ------------------------------------------------- bad values, in-batch
def preprocessed(packed):
    return model('frcnn').data_preprocessor(
        pseudo_collate(copy.deepcopy(packed)), True)


@pytest.mark.parametrize('bad', [float('nan'), -0.5])
def test_bad_existing_weight_raises_in_batch(bad):
    """Existing loss_weights NaN or negative would be mixed into NaN or
    negative weights: refused, naming the image and the value."""
    packed = [pack(own()), pack(partner())]
    gt_of(packed[1]).loss_weights = torch.tensor([bad])
    match = (r"mix_batch: gt_instances.loss_weights\[0\] of image 1 "
             rf"\('partner.png'\) must be finite and >= 0, got {bad}")
    with pytest.raises(ValueError, match=match):
        losses(('frcnn', 'approx'), packed, batch_lossmix([LAM, 0.6]))


def test_nan_box_raises_in_batch():
    """A NaN gt box would give a NaN loss: refused, naming it."""
    packed = [pack(own()), pack(partner())]
    gt_of(packed[0]).bboxes.tensor[0, 2] = float('nan')
    with pytest.raises(
            ValueError,
            match=r"mix_batch: gt_instances box 0 "
            r"\[4.0, 6.0, nan, 40.0\] of image 0 \('own.png'\) "
            'is not finite'):
        losses(('frcnn', 'approx'), packed, batch_lossmix([LAM, 0.6]))


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_bad_pixel_raises_in_batch(bad):
    """A float image packed by the stock PackDetInputs, with one bad pixel
    at (row 5, column 7) of channel 1: refused, naming it."""
    stock_pack = TRANSFORMS.build(dict(type='PackDetInputs'))
    results = [own(dtype=np.float32), partner(dtype=np.float32)]
    results[1]['img'][5, 7, 1] = bad
    data = preprocessed([stock_pack(r) for r in results])
    with pytest.raises(
            ValueError,
            match=r"mix_batch: image 1 "
            r"\('partner.png'\) has 1 NaN or inf pixel values, "
            r'the first at \(channel, row, column\) \(1, 5, 7\): ' + str(bad)):
        batch_lossmix([LAM, 0.6])(data['inputs'], data['data_samples'])


def test_bad_value_named_by_img_id_without_path():
    data = preprocessed([pack(own()), pack(partner())])
    del data['data_samples'][1].img_path  # img_id 1 stays
    data['data_samples'][1].gt_instances.loss_weights = torch.tensor([-1.0])
    with pytest.raises(
            ValueError,
            match=r'image 1 \(img_id 1\) must be '
            'finite and >= 0, got -1.0'):
        mix_batch(data['inputs'], data['data_samples'], torch.tensor([1, 0]),
                  torch.tensor([LAM, 0.6]))


# ----------------------------------------------------------- ignore flags
@pytest.mark.parametrize('side', ['own', 'partner'])
def test_ignore_flags_follow_their_boxes(side):
    """An ignored box on one side goes to ignored_instances with its own
    image's weight and group; the others stay weighted."""
    boxes_a = BOX_A + [[30, 30, 46, 46]]
    own_r = own(boxes_a, ignore=[False, side == 'own'])
    partner_r = partner(
        BOX_B + [[2, 30, 20, 46]], ignore=[False, side == 'partner'])
    packed = pair(own_r, partner_r)
    ignored_box = [[30, 30, 46, 46]] if side == 'own' else [[2, 30, 20, 46]]
    kept_other = [[2, 30, 20, 46]] if side == 'own' else [[30, 30, 46, 46]]
    if side == 'own':
        assert_gts(
            gt_of(packed), BOX_A + BOX_B + kept_other, [LAM, 1 - LAM, 1 - LAM],
            [0, 1, 1])
        assert_gts(gt_of(packed, 'ignored_instances'), ignored_box, [LAM], [0])
    else:
        assert_gts(
            gt_of(packed), BOX_A + kept_other + BOX_B, [LAM, LAM, 1 - LAM],
            [0, 0, 1])
        assert_gts(
            gt_of(packed, 'ignored_instances'), ignored_box, [1 - LAM], [1])
    for detector in DETECTORS:
        losses(detector, [packed])


@pytest.mark.parametrize('side', ['own', 'partner'])
def test_filter_annotations_after_pair_keeps_weights(side):
    """The bug found by hand: FilterAnnotations after LossMixPair, with
    ignore flags, gave a partner box the own image's weight and group.
    The weights ride on the boxes and are dropped with them."""
    tiny = [[1, 1, 3, 3]]  # dropped by min_gt_bbox_wh=(4, 4)
    own_r = own(
        tiny + BOX_A if side == 'own' else BOX_A,
        ignore=[True, False] if side == 'own' else [False])
    partner_r = partner(
        tiny + BOX_B if side == 'partner' else BOX_B,
        ignore=[True, False] if side == 'partner' else [False])
    results = pair_results(
        own_r,
        partner_r,
        after=[dict(type='FilterAnnotations', min_gt_bbox_wh=(4, 4))])
    assert results['gt_bboxes'].loss_weights.tolist() == [
        np.float32(LAM), np.float32(1 - LAM)
    ]  # the tiny box's went with it
    packed = pack(results)
    assert_gts(gt_of(packed), BOX_A + BOX_B, [LAM, 1 - LAM], [0, 1])
    assert len(gt_of(packed, 'ignored_instances')) == 0
    # the same as filtering before mixing
    ref = pair(own(BOX_A), partner(BOX_B))
    assert_gts(gt_of(ref), BOX_A + BOX_B, [LAM, 1 - LAM], [0, 1])
    for detector in DETECTORS:
        assert losses(detector, [packed]) == losses(detector, [ref])


@pytest.mark.parametrize('seed,cfg', [
    (0, dict(type='RandomCrop', crop_size=(20, 20))),
    (1,
     dict(
         type='RandomAffine',
         max_rotate_degree=0,
         max_translate_ratio=0.4,
         scaling_ratio_range=(1.0, 1.0),
         max_shear_degree=0,
         border_val=(0, 0, 0))),
    (1, dict(type='MinIoURandomCrop', min_ious=(0.1, ), min_crop_size=0.3)),
    (0,
     dict(
         type='RandomCenterCropPad',
         crop_size=(24, 24),
         ratios=(1.0, ),
         border=4,
         mean=[0, 0, 0],
         std=[1, 1, 1],
         to_rgb=False,
         test_pad_mode=None)),
])
def test_moving_box_dropper_after_pair_keeps_weights(seed, cfg):
    """Crops and warps move the boxes they keep and drop the others: each
    box left keeps its own image's weight and group (own label 0, partner
    label 1), its weight times the share of it the crop left (w = c * v)."""
    grid = [[x, y, x + 6, y + 6] for x in (2, 26) for y in (2, 26)]
    np.random.seed(seed)
    results = pair_results(own(grid[:2]), partner(grid[2:]), after=[cfg])
    assert 0 < len(results['gt_bboxes']) < 4  # boxes really dropped
    gt = gt_of(pack(results))
    labels = gt.labels.tolist()
    assert ((gt.visible > 0) & (gt.visible <= 1)).all()
    assert gt.loss_weights.tolist() == [
        np.float32(LAM if k == 0 else 1 - LAM) * v
        for k, v in zip(labels, gt.visible.numpy())
    ]
    assert gt.mix_group.tolist() == labels


def test_wrong_length_weight_field_raises():
    # on the boxes: a field has one entry per box, or it is refused
    results = pair_results(own(), partner())
    with pytest.raises(
            ValueError,
            match=r'loss_weights must have one entry '
            r'per box, shape \(2,\), got shape \(3,\)'):
        results['gt_bboxes'].loss_weights = np.ones(3, np.float32)
    # hand-built boxes: wrong lengths and shapes refused when built
    boxes = results['gt_bboxes'].tensor
    with pytest.raises(
            ValueError,
            match=r'loss_weights must have one entry '
            r'per box, shape \(2,\), got shape \(3,\)'):
        LossMixBoxes(
            boxes,
            loss_weights=np.ones(3, np.float32),
            mix_group=np.array([0, 1]))
    with pytest.raises(
            ValueError,
            match=r'loss_weights must have one entry '
            r'per box, shape \(2,\), got shape \(2, 1\)'):
        LossMixBoxes(boxes, loss_weights=np.ones((2, 1), np.float32))
    # as keys of results with plain boxes (the old way): refused at packing
    results['gt_bboxes'] = results['gt_bboxes'].to_hbox()
    results['gt_loss_weights'] = np.ones(2, np.float32)
    results['gt_mix_group'] = np.array([0, 1])
    with pytest.raises(
            ValueError,
            match=r"\['gt_loss_weights', "
            r"'gt_mix_group'\] given as results keys.*"
            r'gt_bboxes=LossMixBoxes\(boxes, loss_weights='):
        pack(results)
    # an InstanceData cannot hold a wrong-length field (mmengine checks)
    gt = InstanceData(bboxes=torch.zeros(2, 4), labels=torch.zeros(2))
    with pytest.raises(AssertionError, match='length of values 3'):
        gt.loss_weights = torch.ones(3)


# ------------------------------------------------------ NaN and inf values
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), 0.0, -0.5])
def test_bad_weight_raises_at_packing(bad):
    results = pair_results(own(), partner())
    results['gt_bboxes'].loss_weights = np.array([LAM, bad], np.float32)
    with pytest.raises(
            ValueError,
            match=r'LossMixBoxes loss_weights must be '
            r'finite and > 0.*' + str(bad).replace('.', r'\.')):
        pack(results)


@pytest.mark.parametrize('detector', DETECTORS, ids='-'.join)
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_bad_weight_raises_in_heads(bad, detector):
    """A NaN / inf weight put on the instances after packing: every head
    raises, the exact mode (which does not use the weights) included."""
    packed = pair(own(), partner())
    gt_of(packed).loss_weights = torch.tensor([LAM, bad])
    with pytest.raises(ValueError, match='loss_weights must be finite'):
        losses(detector, [packed])


@pytest.mark.parametrize('where,match', [
    ('own', "LossMixPair: own image 'own.png'"),
    ('partner', "LossMixPair: partner image 'partner.png'"),
    ('unmixed', "PackLossMixInputs: image 'own.png'"),
])
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_bad_pixel_raises(where, match, bad):
    """Float images are checked (uint8 ones cannot hold NaN) where they
    are mixed, and where they are packed."""
    own_r = own(dtype=np.float32)
    partner_r = partner(dtype=np.float32)
    (partner_r if where == 'partner' else own_r)['img'][5, 7, 1] = bad
    with pytest.raises(
            ValueError,
            match=match + r' has 1 NaN or inf pixel '
            r'values, the first at \(row, column\) \(5, 7\): ' + str(bad)):
        pair(own_r, None if where == 'unmixed' else partner_r)
    # after mixing, a bad value in the float canvas is caught at packing
    results = pair_results(own(), partner())
    results['img'][40, 3, 0] = bad
    with pytest.raises(
            ValueError,
            match=r"PackLossMixInputs: image "
            r"'own\.png' has 1 NaN .* \(40, 3\)"):
        pack(results)


def test_nan_lambda_raises_everywhere():
    with pytest.raises(
            ValueError, match=r'sampled lam must be in \[0, 1\], '
            'got nan'):
        pair_results(own(), partner(), lam=float('nan'))
    results = pair_results(own(), partner())
    results['mix_lambda'] = 1.5
    with pytest.raises(
            ValueError, match=r'mix_lambda must be in \[0, 1\], '
            'got 1.5'):
        pack(results)
    packed = [pack(own()), pack(partner())]
    for lams in ([float('nan'), 0.5], [1.5, 0.5], [-0.1, 0.5]):
        with pytest.raises(
                ValueError,
                match=r'\[0, 1\], got \[' + str(lams[0]).replace('.', r'\.')):
            losses(('frcnn', 'approx'), packed, batch_lossmix(lams))
    with pytest.raises(ValueError, match=r'mix_lambda must be in \[0, 1\]'):
        group_coefficients(dict(mix_lambda=float('nan')))


@pytest.mark.parametrize('mode', ['mixup', None, 'LossMix'])
def test_unknown_mode_raises(mode):
    match = r"mode must be one of \('lossmix', 'union', 'noise'\)"
    with pytest.raises(ValueError, match=match):
        BatchLossMix(mode=mode)
    with pytest.raises(ValueError, match=match):
        LossMixPair(mode=mode)
    data = model('frcnn').data_preprocessor(
        pseudo_collate([pack(own()), pack(partner())]), True)
    inputs = data['inputs']
    with pytest.raises(ValueError, match=match):
        mix_batch(
            data['inputs'],
            data['data_samples'],
            torch.tensor([1, 0]),
            torch.tensor([0.5, 0.5]),
            mode=mode)
    with pytest.raises(ValueError, match=match):
        mix_across(inputs[:1], data['data_samples'][:1], inputs[1:],
                   data['data_samples'][1:], torch.tensor([0.5]), mode)
    aug = BatchLossMix()
    with pytest.raises(ValueError, match=match):
        update_mix_args(aug, mode=mode)
    assert aug.mode == 'lossmix'  # unchanged
    with pytest.raises(ValueError, match='mix_' + match):
        group_coefficients(dict(mix_lambda=0.5, mix_mode=mode))


@pytest.mark.parametrize('kwargs,match', [
    (dict(alpha=float('inf')), 'alpha must be a number > 0, got inf'),
    (dict(alpha=float('nan')), 'alpha must be a number > 0, got nan'),
    (dict(prob=float('nan')), r'prob must be a number in \[0, 1\]'),
    (dict(noise_range=(0.0, float('nan'))), 'noise_range'),
])
def test_non_finite_mixing_arguments_raise(kwargs, match):
    args = dict(mode='lossmix', alpha=1.0, prob=1.0, noise_range=(0.0, 0.2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        check_mix_args(**args)
    with pytest.raises(ValueError, match=match):
        update_mix_args(LossMixPair(), **kwargs)


@pytest.mark.parametrize('kwargs,match', [
    (dict(alpha=True), 'alpha must be a number > 0, got True'),
    (dict(alpha=np.bool_(True)), 'alpha must be a number > 0, got np.True_'),
    (dict(prob=True), r'prob must be a number in \[0, 1\], got True'),
    (dict(prob=False), r'prob must be a number in \[0, 1\], got False'),
    (dict(noise_range=(False, 0.2)), r'noise_range .* got \(False, 0\.2\)'),
])
def test_bool_mixing_arguments_raise(kwargs, match):
    """Bools are not numbers here: alpha=True is not taken as 1.0."""
    args = dict(mode='lossmix', alpha=1.0, prob=1.0, noise_range=(0.0, 0.2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        check_mix_args(**args)
    with pytest.raises(ValueError, match=match):
        LossMixPair(**kwargs)
    with pytest.raises(ValueError, match=match):
        update_mix_args(LossMixPair(), **kwargs)


@pytest.mark.parametrize('dtype', [np.int64, np.float64])
def test_packing_casts_weights_to_float32(dtype):
    results = pair_results(own(), partner())
    results['gt_bboxes'] = LossMixBoxes(
        results['gt_bboxes'].tensor,
        loss_weights=np.array([1, 2], dtype),
        mix_group=np.array([0, 1], dtype))
    gt = gt_of(pack(results))
    assert gt.loss_weights.dtype == torch.float32
    assert gt.loss_weights.tolist() == [1.0, 2.0]
    assert gt.mix_group.dtype == torch.int64


def test_string_mix_lambda_raises_at_packing():
    results = pair_results(own(), partner())
    results['mix_lambda'] = '0.5'
    with pytest.raises(
            ValueError,
            match=r"mix_lambda must be a number in "
            r"\[0, 1\], got '0\.5'"):
        pack(results)


def test_mix_across_checks_partners_and_lambdas():
    data = model('frcnn').data_preprocessor(
        pseudo_collate([pack(own()), pack(partner())]), True)
    x, s = data['inputs'], data['data_samples']
    for inds in ([1], [-1]):  # second batch has one image: index 0 only
        with pytest.raises(
                ValueError, match=r'in \[0, 1\), got \[' + str(inds[0])):
            mix_across(x[:1], s[:1], x[1:], s[1:], torch.tensor([0.5]),
                       'lossmix', torch.tensor(inds))
    with pytest.raises(
            ValueError, match='1 images to mix need 1 '
            'coefficients, got 2'):
        mix_across(x[:1], s[:1], x[1:], s[1:], torch.tensor([0.5, 0.5]),
                   'lossmix')


# --------------------------------------------- exact mode and its metainfo
@pytest.mark.parametrize(
    'detector', [('frcnn', 'exact'), ('retina', 'exact')], ids='-'.join)
def test_exact_without_mix_lambda_raises(detector):
    """Read as 1, a missing mix_lambda would drop the partner's gts."""
    packed = pair(own(), partner())
    metainfo = dict(packed['data_samples'].metainfo)
    del metainfo['mix_lambda']
    sample = packed['data_samples'].__class__(metainfo=metainfo)
    sample.gt_instances = gt_of(packed)
    sample.ignored_instances = gt_of(packed, 'ignored_instances')
    packed['data_samples'] = sample
    with pytest.raises(
            ValueError,
            match='1 gts of mix_group 1 .* but no '
            "mix_lambda in the metainfo of image 'own.png'"):
        losses(detector, [packed])
    # nor a partner-free sample without it: lam 1 is right there
    assert mix_group_passes([plain_gts(packed)], [{}])[0].coeffs == [1.0]


@pytest.mark.parametrize(
    'detector', [('frcnn', 'exact'), ('retina', 'exact')], ids='-'.join)
def test_exact_bad_mix_group_raises(detector):
    """A mix_group other than 0 / 1 put on the instances after packing."""
    packed = pair(own(), partner())
    gt_of(packed).mix_group = torch.tensor([0, 2])
    with pytest.raises(
            ValueError,
            match=r"mix_group of image 'own\.png' "
            r'must be 0 \(own image\) or 1 \(partner\), got 2'):
        losses(detector, [packed])


def test_retina_label_out_of_range_raises():
    """One clear error, not an IndexError from deep in the focal loss."""
    packed = pair(own(), partner())
    gt_of(packed).labels = torch.tensor([0, 3])
    for variant in ('approx', 'exact'):
        with pytest.raises(
                ValueError,
                match=r"gt label 3 of image "
                r"'own\.png' is out of range: labels must be in "
                r'\[0, 3\) for a head of num_classes=3'):
            losses(('retina', variant), [packed])


def test_packing_keeps_lossmix_meta_keys():
    """meta_keys copied from a stock config still pack mix_lambda/mode."""
    packed = pack(
        pair_results(own(), partner()),
        meta_keys=('img_id', 'img_path', 'img_shape'))
    assert packed['data_samples'].mix_lambda == LAM
    assert packed['data_samples'].mix_mode == 'lossmix'
    results = pair_results(own(), partner())
    del results['mix_lambda']
    with pytest.raises(
            ValueError, match='1 gts of mix_group 1 .* no '
            'mix_lambda'):
        pack(results)


# ------------------------------------------------ RoI heads: many or bad gts
def gts_sample(boxes, labels, size=64, **fields):
    """A packed-like sample of one random ``size`` x ``size`` image with
    the given gts (and LossMix fields: ``mix_lambda`` goes to metainfo)."""
    meta = dict(
        img_path='many.png',
        img_id=0,
        ori_shape=(size, size),
        img_shape=(size, size),
        scale_factor=(1.0, 1.0))
    if 'mix_lambda' in fields:
        meta['mix_lambda'] = fields.pop('mix_lambda')
    sample = DetDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(bboxes=boxes, labels=labels, **fields)
    img = torch.from_numpy(
        np.random.RandomState(0).randint(0, 256,
                                         (3, size, size)).astype(np.uint8))
    return dict(inputs=img, data_samples=sample)


def test_3000_gts_train_like_stock_mmdet():
    """3000 valid gts: the LossMix Faster R-CNN with weights 1 is the stock
    one exactly, and it trains with mixed weights in every mode."""
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(3000, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + torch.rand(3000, 2, generator=g) * 12 + 2],
                      dim=1)
    labels = torch.randint(0, 3, (3000, ), generator=g)
    group = torch.randint(0, 2, (3000, ), generator=g)
    stock = losses(('frcnn', 'stock'), [gts_sample(boxes, labels)])
    ones = gts_sample(boxes, labels, loss_weights=torch.ones(3000))
    assert losses(('frcnn', 'approx'), [ones]) == stock
    mixed = gts_sample(
        boxes,
        labels,
        mix_lambda=LAM,
        mix_group=group,
        loss_weights=torch.where(group == 0, LAM, 1 - LAM))
    for variant in ('approx', 'exact'):
        got = losses(('frcnn', variant), [mixed])
        assert got['loss_bbox'] != stock['loss_bbox']


def test_3000_gts_drawn_as_random_corners_raise_naming_the_box():
    """``torch.rand(3000, 4) * size`` is not (x1, y1, x2, y2): most boxes
    have x2 < x1; the sampler adds the gts as proposals and stock mmdet
    fails in mmcv's RoIAlign; the LossMix heads name the first bad box."""
    boxes = torch.rand(3000, 4, generator=torch.Generator().manual_seed(0))
    boxes = boxes * 64
    labels = torch.zeros(3000, dtype=torch.long)
    first = int(
        torch.nonzero((boxes[:, 2] < boxes[:, 0])
                      | (boxes[:, 3] < boxes[:, 1]))[0])
    with pytest.raises(RuntimeError, match='ROIAlign'):
        losses(('frcnn', 'stock'), [gts_sample(boxes, labels)])
    weighted = gts_sample(boxes, labels, loss_weights=torch.ones(3000))
    for variant in ('approx', 'exact'):
        with pytest.raises(
                ValueError,
                match=re.escape(f'gt box {first} [') +
                ".*of image 'many.png' is not "
                r'\(x1, y1, x2, y2\) with x1 <= x2'):
            losses(('frcnn', variant), [weighted])


@pytest.mark.parametrize('variant', ['approx', 'exact'])
def test_gt_label_out_of_range_raises_naming_it(variant):
    """num_classes=3: label 3 would be read as background by the stock
    loss, label 9 fail deep in it."""
    boxes = torch.tensor(BOX_A + BOX_B, dtype=torch.float32)
    for bad in (3, 9):
        sample = gts_sample(
            boxes,
            torch.tensor([0, bad]),
            loss_weights=torch.tensor([LAM, 1 - LAM]))
        with pytest.raises(
                ValueError,
                match=re.escape(
                    f"gt label {bad} of image 'many.png' is out of range: "
                    'labels must be in [0, 3) for a head of num_classes=3')):
            losses(('frcnn', variant), [sample])


# ---------------------------------------------------------- image formats
@pytest.mark.parametrize('gray_side', ['own', 'partner'])
@pytest.mark.parametrize('gray_channels', [None, 1])
def test_grayscale_with_colour(gray_side, gray_channels):
    """A 'grayscale' loaded image, (H, W) or (H, W, 1), mixes with a colour
    one into colour: the grey value in each channel."""
    gray = dict(channels=gray_channels)
    own_r = own(**(gray if gray_side == 'own' else {}))
    partner_r = partner(**(gray if gray_side == 'partner' else {}))
    a = own_r['img'].astype(np.float32).reshape(48, 48, -1)
    b = partner_r['img'].astype(np.float32).reshape(48, 48, -1)
    packed = pair(own_r, partner_r)
    expected = LAM * a + (1 - LAM) * b  # broadcasts the grey channel
    assert expected.shape == (48, 48, 3)
    np.testing.assert_allclose(
        packed['inputs'].permute(1, 2, 0).numpy(), expected, rtol=1e-6)
    for detector in DETECTORS:
        losses(detector, [packed])


def test_uint8_and_float_inputs():
    """uint8 and float32 images of the same values: the same mixture and,
    side by side in one batch, the same losses as two uint8 images."""
    mixed = pair(own(), partner(dtype=np.float32))
    ref = pair(own(), partner())
    assert mixed['inputs'].dtype == torch.float32
    assert torch.equal(mixed['inputs'], ref['inputs'])
    unmixed_u8 = pack(own(seed=2))
    unmixed_f32 = pack(own(seed=2, dtype=np.float32))
    assert unmixed_u8['inputs'].dtype == torch.uint8
    for detector in DETECTORS:
        assert losses(detector,
                      [unmixed_u8, mixed]) == losses(detector,
                                                     [unmixed_f32, ref])


def test_very_different_aspect_ratios():
    """24x120 with 120x24: both centred on a 120x120 canvas."""
    own_r = loaded(24, 120, [[10, 4, 50, 20]], [0])
    partner_r = loaded(120, 24, [[4, 10, 20, 50]], [1], path='p.png')
    packed = pair(own_r, partner_r)
    assert packed['inputs'].shape == (3, 120, 120)
    # own at (x, y) offset (0, 48), partner at (48, 0)
    assert_gts(
        gt_of(packed), [[10, 52, 50, 68], [52, 10, 68, 50]], [LAM, 1 - LAM],
        [0, 1])
    img = packed['inputs']
    assert img[:, 0, 0].abs().sum() == 0  # neither image: zero padding
    assert torch.allclose(img[:, 50, 10],
                          LAM * torch.from_numpy(own_r['img'][2, 10]).float())
    for detector in DETECTORS:
        losses(detector, [packed])
    # and in-batch, two such images
    for detector in DETECTORS:
        losses(detector, [pack(own_r), pack(partner_r)],
               batch_lossmix([LAM, 0.6]))


# ------------------------------------------------------------ bad boxes
@pytest.mark.parametrize('side', ['own', 'partner'])
@pytest.mark.parametrize('box,what', [
    ([10, 10, 10, 30], 'zero-area or inverted'),
    ([30, 10, 10, 30], 'zero-area or inverted'),
    ([40, 40, 10, 10], 'zero-area or inverted'),
    ([10, float('nan'), 20, 30], 'not finite'),
    ([10, 10, float('inf'), 30], 'not finite'),
])
def test_degenerate_box_raises_naming_it(side, box, what):
    """Stock mmdet turns these into a NaN / inf box loss (log of a zero
    width) or an RoIAlign crash; LossMixPair names them."""
    boxes = BOX_A + [box]
    own_r = own(boxes) if side == 'own' else own()
    partner_r = partner(boxes) if side == 'partner' else partner()
    path = 'own.png' if side == 'own' else 'partner.png'
    with pytest.raises(
            ValueError,
            match=rf"gt box 1 .* of the {side} image "
            rf"'{path}' is {what}.*FilterAnnotations"):
        pair_results(own_r, partner_r)
    if side == 'own':  # unmixed samples are checked alike
        with pytest.raises(ValueError, match='gt box 1'):
            pair_results(own_r, None)


def test_out_of_image_boxes_are_clipped_to_their_image():
    """Clipped to their own image before mixing (never placed over the
    other image's pixels), dropped when nothing is left, then shifted."""
    own_r = loaded(24, 48,
                   [[40, -4, 60, 10], [50, 2, 60, 10], [-20, -20, -5, -5]],
                   [0, 2, 2])
    partner_r = loaded(48, 24, [[2, 2, 20, 20]], [1], path='p.png')
    packed = pair(own_r, partner_r)
    # own at (0, 12), partner at (12, 0) on the 48x48 canvas; the own box
    # [40, -4, 60, 10] (20 x 14) keeps [40, 0, 48, 10] (8 x 10) of itself:
    # w = lam * 80 / 280
    assert_gts(
        gt_of(packed), [[40, 12, 48, 22], [14, 2, 32, 20]],
        [LAM * 80 / 280, 1 - LAM], [0, 1])
    assert gt_of(packed).labels.tolist() == [0, 1]
    for detector in DETECTORS:
        losses(detector, [packed])


@pytest.mark.parametrize('side', ['own', 'partner'])
def test_already_weighted_sample_raises(side):
    """A second LossMixPair would overwrite the first one's weights."""
    mixed = pair_results(own(), partner())
    mixed.pop('mix_results')
    other = partner(path='third.png')
    args = (mixed, other) if side == 'own' else (other, mixed)
    with pytest.raises(
            ValueError, match=rf"the {side} image '.*' is already "
            'mixed'):
        pair_results(*args)
