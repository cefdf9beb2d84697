"""LossMixMixUp and LossMixCachedMixUp: hand-derived weights, visible
shares and pixels at a fixed lam, and mmdet's images and boxes (seeded) in
union mode."""
import copy
import math

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import CachedMixUp, MixUp
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from lossmix_mm.datasets.transforms.formatting import PackLossMixInputs
from lossmix_mm.datasets.transforms.lossmix_mixup import (LossMixCachedMixUp,
                                                          LossMixMixUp)
from lossmix_mm.structures import LossMixBoxes

CLASSES = (LossMixMixUp, LossMixCachedMixUp)
STOCK = {LossMixMixUp: MixUp, LossMixCachedMixUp: CachedMixUp}
LAM = 0.25
OWN_BOX = [1, 1, 5, 5]


def results(h, w, boxes, labels, value=100, shape=None, box_cls=None):
    """One image's results: a constant image (``value``) or ``shape``."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    img = np.full(shape or (h, w, 3), value, np.uint8)
    return dict(
        img=img,
        img_shape=(h, w),
        gt_bboxes=(box_cls or HorizontalBoxes)(boxes),
        gt_bboxes_labels=np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(len(boxes), bool))


def random_results(seed, h, w, num=3, masks=False):
    """An image of random pixels with ``num`` random boxes (and masks)."""
    rs = np.random.RandomState(seed)
    xy = rs.uniform(0, [w - 4, h - 4], (num, 2))
    boxes = np.concatenate([xy, xy + rs.uniform(2, 12, (num, 2))], 1)
    res = results(h, w, boxes, np.arange(num) + 10 * seed)
    res['img'] = rs.randint(0, 256, (h, w, 3)).astype(np.uint8)
    if masks:
        bits = (rs.rand(num, h, w) > 0.5).astype(np.uint8)
        res['gt_masks'] = BitmapMasks(bits, h, w)
    return res


def mix(cls, own, partner, lam=LAM, offset=None, **kwargs):
    """Run ``cls`` on ``own`` with ``partner`` at a fixed lam (and crop
    offset); the cached class sees the partner first, then ``own`` (with
    two cached samples it always draws the first)."""
    kwargs.setdefault('flip_ratio', 1.0)  # mmdet flips on draw > ratio
    transform = cls(**kwargs)
    transform.sample_lambda = lambda: lam
    if offset is not None:
        transform.sample_offset = lambda padded_hw, target_hw: offset
    if cls is LossMixMixUp:
        return transform(dict(own, mix_results=[partner]))
    transform(partner)
    return transform(own)


@pytest.mark.parametrize('cls', CLASSES)
def test_fixed_lam_weights_and_pixels(cls):
    """Own 16x20 of 100, partner 8x5 of 200 resized x2 into the left 10
    columns of a 16x20 canvas padded with 114: lam 0.25 gives
    0.25 * 100 + 0.75 * 200 = 175 and 0.25 * 100 + 0.75 * 114 = 110.5,
    truncated to 110 as mmdet does."""
    own = results(16, 20, [OWN_BOX], [0])
    partner = results(8, 5, [[1, 1, 3, 4]], [7], value=200)
    out = mix(cls, own, partner, img_scale=(20, 16), ratio_range=(1., 1.))
    assert out['img'].dtype == np.uint8 and out['img'].shape == (16, 20, 3)
    assert (out['img'][:, :10] == 175).all()
    assert (out['img'][:, 10:] == 110).all()
    boxes = out['gt_bboxes']
    assert isinstance(boxes, LossMixBoxes)
    assert boxes.tensor.tolist() == [OWN_BOX, [2, 2, 6, 8]]
    assert out['gt_bboxes_labels'].tolist() == [0, 7]
    assert boxes.loss_weights.tolist() == [0.25, 0.75]
    assert boxes.mix_group.tolist() == [0, 1]
    assert boxes.visible.tolist() == [1, 1]
    assert out['mix_lambda'] == LAM and out['mix_mode'] == 'lossmix'


def half_cut(cls, own, partner, lam=LAM):
    """Partner 8x10 x3 (img_scale x2, jitter 1.5) onto a 24x30 canvas
    (all partner), cropped at x 9: its box [2, 2, 4, 4] becomes
    [6, 6, 12, 12], then [-3, 6, 3, 12], clipped to [0, 6, 3, 12]: half its
    area."""
    return mix(
        cls,
        own,
        partner,
        lam,
        offset=(9, 0),
        img_scale=(20, 16),
        ratio_range=(1.5, 1.5))


@pytest.mark.parametrize('cls', CLASSES)
def test_partner_box_half_cut_by_crop(cls):
    own = results(16, 20, [OWN_BOX], [0])
    partner = results(8, 10, [[2, 2, 4, 4]], [7], value=200)
    out = half_cut(cls, own, partner)
    boxes = out['gt_bboxes']
    assert boxes.tensor.tolist() == [OWN_BOX, [0, 6, 3, 12]]
    assert boxes.visible.tolist() == [1, 0.5]
    assert boxes.loss_weights.tolist() == [0.25, 0.75]
    assert (out['img'] == 175).all()
    packed = PackLossMixInputs()(out)['data_samples'].gt_instances
    assert packed.loss_weights.tolist() == [0.25, 0.375]  # c * v
    assert packed.visible.tolist() == [1, 0.5]
    assert packed.mix_group.tolist() == [0, 1]


@pytest.mark.parametrize('cls', CLASSES)
def test_earlier_weights_multiply(cls):
    """Own boxes of c 0.25 (an earlier blend's partner, group 1) weigh
    0.25 * lam in group 0; a partner box of c 0.5 and visible 0.5 half cut
    keeps c 0.5 * (1 - lam) = 0.375 and visible 0.25."""
    own = results(16, 20, [OWN_BOX], [0], box_cls=LossMixBoxes)
    own['gt_bboxes'].loss_weights = [0.25]
    own['gt_bboxes'].mix_group = [1]
    partner = results(8, 10, [[2, 2, 4, 4]], [7], box_cls=LossMixBoxes)
    partner['gt_bboxes'].loss_weights = [0.5]
    partner['gt_bboxes'].visible = [0.5]
    boxes = half_cut(cls, own, partner)['gt_bboxes']
    assert boxes.loss_weights.tolist() == [0.0625, 0.375]
    assert boxes.mix_group.tolist() == [0, 1]
    assert boxes.visible.tolist() == [1, 0.25]
    assert partner['gt_bboxes'].visible.tolist() == [0.5]  # not modified


@pytest.mark.parametrize('lam, labels', [(1.0, [0]), (0.0, [7])])
def test_image_of_coefficient_zero_loses_its_boxes(lam, labels):
    own = results(16, 20, [OWN_BOX], [0])
    partner = results(8, 5, [[1, 1, 3, 4]], [7], value=200)
    out = mix(
        LossMixMixUp,
        own,
        partner,
        lam,
        img_scale=(20, 16),
        ratio_range=(1., 1.))
    assert out['gt_bboxes_labels'].tolist() == labels
    assert out['gt_bboxes'].loss_weights.tolist() == [1.0]
    assert (out['img'][:, :10] == (100 if lam else 200)).all()


def run_seeded(transform, samples, seed):
    """Outputs of ``transform`` on copies of ``samples`` from ``seed``."""
    np.random.seed(seed)
    return [transform(copy.deepcopy(s)) for s in samples]


def assert_same(stock, ours, mode):
    """mmdet's image, boxes, labels and flags (and masks)."""
    np.testing.assert_array_equal(ours['img'], stock['img'])
    assert ours['img_shape'] == stock['img_shape']
    assert torch.equal(ours['gt_bboxes'].tensor, stock['gt_bboxes'].tensor)
    for key in ('gt_bboxes_labels', 'gt_ignore_flags'):
        np.testing.assert_array_equal(ours[key], stock[key])
    if 'gt_masks' in stock:
        np.testing.assert_array_equal(ours['gt_masks'].masks,
                                      stock['gt_masks'].masks)
    if 'mix_lambda' in ours:
        weights = ours['gt_bboxes'].loss_weights
        assert (weights == (1.0 if mode == 'union' else 0.5)).all()
        if mode == 'union':  # plain boxes in: nothing cut is recorded
            assert (ours['gt_bboxes'].visible == 1).all()


@pytest.mark.parametrize('mode', ['union', 'lossmix'])
def test_mixup_equals_mmdet_at_alpha_none(mode):
    """Seeds with and without flip (mmdet's second draw) and with crop
    offsets; own images smaller and larger than ``img_scale``."""
    stock = MixUp(img_scale=(24, 20))
    ours = LossMixMixUp(img_scale=(24, 20), mode=mode)
    offsets = []
    sample_offset = ours.sample_offset
    ours.sample_offset = lambda *a: offsets.append(sample_offset(*a)) or \
        offsets[-1]
    flips = set()
    for seed in range(8):
        np.random.seed(seed)
        np.random.uniform()
        flips.add(np.random.uniform(0, 1) > 0.5)
        own = random_results(seed, *((14, 30) if seed % 2 else (26, 20)))
        sample = dict(own, mix_results=[random_results(seed + 50, 18, 15)])
        assert_same(
            run_seeded(stock, [sample], seed)[0],
            run_seeded(ours, [sample], seed)[0], mode)
    assert flips == {True, False}
    assert any(x for x, _ in offsets) and any(y for _, y in offsets)


@pytest.mark.parametrize('masks', [False, True])
@pytest.mark.parametrize('mode', ['union', 'lossmix'])
def test_cached_mixup_equals_mmdet_at_alpha_none(mode, masks):
    """A stream with cache pops, the prob draw and an empty sample."""
    args = dict(img_scale=(24, 20), max_cached_images=3, prob=0.8)
    samples = [
        random_results(k, 18 + k, 24 - k, masks=masks) for k in range(7)
    ]
    samples[2] = random_results(2, 20, 20, num=0, masks=masks)
    for seed in range(3):
        stock = run_seeded(CachedMixUp(**args), samples, seed)
        ours = run_seeded(LossMixCachedMixUp(mode=mode, **args), samples, seed)
        assert sum('mix_lambda' in out for out in ours) >= 3
        for s, o in zip(stock, ours):
            assert_same(s, o, mode)


@pytest.mark.parametrize('cls', CLASSES)
def test_alpha_draws_lam_after_mmdets_draws(cls):
    """With alpha, mmdet's geometry is unchanged (its draws come first) and
    lam is the next Beta(2, 2) draw."""
    args = dict(img_scale=(24, 20), max_cached_images=2)
    if cls is LossMixMixUp:
        args.pop('max_cached_images')
    samples = [random_results(1, 20, 24), random_results(2, 16, 22)]
    if cls is LossMixMixUp:
        samples = [dict(samples[1], mix_results=[samples[0]])]
    for seed in range(3):
        stock = run_seeded(STOCK[cls](**args), samples, seed)[-1]
        lam = np.random.beta(2.0, 2.0)
        ours = run_seeded(cls(mode='union', alpha=2, **args), samples, seed)
        assert ours[-1]['mix_lambda'] == lam != 0.5
        assert torch.equal(ours[-1]['gt_bboxes'].tensor,
                           stock['gt_bboxes'].tensor)


def test_grayscale():
    """mmdet's MixUp fails on 2-D images; here two grayscale images give
    mmdet's colour result's channel (all three equal), a grayscale own image
    with a colour partner mmdet's result for the own image in colour."""
    own, partner = random_results(1, 20, 24), random_results(2, 16, 22)
    own['img'] = np.repeat(own['img'][..., :1], 3, 2)
    partner['img'] = np.repeat(partner['img'][..., :1], 3, 2)
    stock = run_seeded(
        MixUp(img_scale=(24, 20)), [dict(own, mix_results=[partner])], 0)[0]
    gray = dict(own, img=own['img'][..., 0])
    for partner_img in (partner['img'][..., 0], partner['img']):
        sample = dict(gray, mix_results=[dict(partner, img=partner_img)])
        out = run_seeded(LossMixMixUp(img_scale=(24, 20)), [sample], 0)[0]
        expected = stock['img'] if partner_img.ndim == 3 else \
            stock['img'][..., 0]
        np.testing.assert_array_equal(out['img'], expected)
        assert torch.equal(out['gt_bboxes'].tensor, stock['gt_bboxes'].tensor)
    gray_pair = dict(
        gray, mix_results=[dict(partner, img=partner['img'][..., 0])])
    with pytest.raises(Exception):  # mmdet's MixUp: colour only
        run_seeded(MixUp(img_scale=(24, 20)), [gray_pair], 0)
    sample = dict(own, img=np.zeros((20, 24, 4), np.uint8))
    with pytest.raises(ValueError, match='channels 4 .own. and 3'):
        LossMixMixUp(img_scale=(24, 20))(dict(sample, mix_results=[partner]))


@pytest.mark.parametrize('cls', CLASSES)
def test_empty_partner_leaves_results_unchanged(cls):
    own = results(16, 20, [OWN_BOX], [0])
    partner = results(8, 10, np.zeros((0, 4)), [])
    state = np.random.get_state()[1].copy()
    out = mix(cls, own, partner, img_scale=(20, 16))
    assert set(out) - {'mix_results'} == set(own)
    assert all(out[key] is value for key, value in own.items())
    assert type(out['gt_bboxes']) is HorizontalBoxes
    assert out['gt_bboxes'].tensor.tolist() == [OWN_BOX]
    assert (out['img'] == 100).all()
    if cls is LossMixMixUp:  # the cache draws its index
        np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize('cls', CLASSES)
@pytest.mark.parametrize('kwargs', [
    dict(alpha=0),
    dict(alpha=-1),
    dict(alpha=math.nan),
    dict(alpha=math.inf),
    dict(alpha=True),
    dict(alpha='x'),
    dict(mode='x'),
    dict(mode='noise'),
])
def test_bad_args_raise(cls, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f'{name} must be .*got') as info:
        cls(**kwargs)
    assert repr(kwargs[name]) in str(info.value)


def test_built_from_config_and_repr():
    transform = TRANSFORMS.build(
        dict(type='LossMixCachedMixUp', img_scale=(32, 32), alpha=1.5))
    assert isinstance(transform, CachedMixUp)
    assert transform.max_cached_images == 20 and transform.alpha == 1.5
    assert repr(transform).endswith("prob=1.0, mode='lossmix', alpha=1.5)")
    with pytest.raises(ValueError, match='mix_results'):
        LossMixMixUp()(results(8, 8, [OWN_BOX], [0]))


@pytest.mark.parametrize('cls', CLASSES)
def test_partner_mask_share_instead_of_the_box_share(cls):
    """The half-cut partner box [2, 2, 4, 4] of ``half_cut`` with a mask
    only in its right column (x = 3, rows 2-3): scaled x3 to x 9-11, the
    crop at x 9 keeps all of it, so v is 1 where the box's share is 0.5."""
    own = results(16, 20, [OWN_BOX], [0])
    own_bits = np.zeros((1, 16, 20), np.uint8)
    own_bits[0, 1:5, 1:5] = 1
    own['gt_masks'] = BitmapMasks(own_bits, 16, 20)
    partner = results(8, 10, [[2, 2, 4, 4]], [7], value=200)
    bits = np.zeros((1, 8, 10), np.uint8)
    bits[0, 2:4, 3] = 1
    partner['gt_masks'] = BitmapMasks(bits, 8, 10)
    out = half_cut(cls, own, partner)
    boxes = out['gt_bboxes']
    assert boxes.tensor.tolist() == [OWN_BOX, [0, 6, 3, 12]]
    assert boxes.visible.tolist() == [1, 1]
    assert out['gt_masks'].masks[1].sum() == 3 * 6  # 3 columns, 6 rows
