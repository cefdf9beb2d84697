"""``LossMixMosaic`` / ``LossMixCachedMosaic``: mmdet's mosaic, each box
weighted by what the canvas shows of it."""
import copy
import random

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import CachedMosaic, Mosaic
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from lossmix_mm.datasets.transforms import (LossMixCachedMosaic, LossMixMosaic,
                                            PackLossMixInputs)
from lossmix_mm.structures import LossMixBoxes


def loaded(seed, h, w, n, box_cls=HorizontalBoxes, channels=3):
    """An image with ``n`` random boxes inside it, labels 10 * seed + k."""
    rs = np.random.RandomState(seed)
    x1, y1 = rs.randint(0, w - 4, n), rs.randint(0, h - 4, n)
    x2 = np.minimum(x1 + rs.randint(2, w // 2, n), w)
    y2 = np.minimum(y1 + rs.randint(2, h // 2, n), h)
    boxes = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
    shape = (h, w, channels) if channels else (h, w)
    return dict(
        img=rs.randint(0, 256, shape).astype(np.uint8),
        img_shape=(h, w),
        img_path=f'{seed}.png',
        gt_bboxes=box_cls(boxes),
        gt_bboxes_labels=np.arange(n) + 10 * seed,
        gt_ignore_flags=np.zeros(n, bool))


def with_tiles(results, box_cls=HorizontalBoxes):
    results['mix_results'] = [
        loaded(k, 20 + 5 * k, 30, 2 + k, box_cls) for k in (1, 2, 3)
    ]
    return results


def seeded(transform, results, seed):
    np.random.seed(seed)
    random.seed(seed)
    return transform(results)


def assert_same(ours, stock):
    np.testing.assert_array_equal(ours['img'], stock['img'])
    assert ours['img_shape'] == stock['img_shape']
    torch.testing.assert_close(
        ours['gt_bboxes'].tensor, stock['gt_bboxes'].tensor, rtol=0, atol=0)
    np.testing.assert_array_equal(ours['gt_bboxes_labels'],
                                  stock['gt_bboxes_labels'])
    np.testing.assert_array_equal(ours['gt_ignore_flags'],
                                  stock['gt_ignore_flags'])


@pytest.mark.parametrize('seed', range(6))
def test_union_mode_is_mmdet_mosaic(seed):
    kwargs = dict(img_scale=(40, 32))
    stock = seeded(Mosaic(**kwargs), with_tiles(loaded(0, 30, 50, 3)), seed)
    ours = seeded(
        LossMixMosaic(mode='union', **kwargs),
        with_tiles(loaded(0, 30, 50, 3)), seed)
    assert_same(ours, stock)
    assert type(ours['gt_bboxes']) is HorizontalBoxes


@pytest.mark.parametrize('seed', range(4))
def test_lossmix_mode_draws_the_same_image_and_boxes(seed):
    """The same image as mmdet and the same boxes up to the pixel a resized
    tile loses (``int(w * scale)`` pixels wide: a box at its image's edge
    ends up to 1 pixel inside mmdet's), now LossMixBoxes with what is
    visible of each."""
    kwargs = dict(img_scale=(40, 32))
    stock = seeded(Mosaic(**kwargs), with_tiles(loaded(0, 30, 50, 3)), seed)
    ours = seeded(
        LossMixMosaic(**kwargs), with_tiles(loaded(0, 30, 50, 3)), seed)
    np.testing.assert_array_equal(ours['img'], stock['img'])
    np.testing.assert_array_equal(ours['gt_bboxes_labels'],
                                  stock['gt_bboxes_labels'])
    boxes, ref = ours['gt_bboxes'], stock['gt_bboxes'].tensor
    torch.testing.assert_close(boxes.tensor, ref, rtol=0, atol=1)
    assert (boxes.tensor[:, :2] >= ref[:, :2]).all()
    assert (boxes.tensor[:, 2:] <= ref[:, 2:]).all()
    assert type(boxes) is LossMixBoxes
    assert boxes.loss_weights.tolist() == [1] * len(boxes)
    assert ((boxes.visible > 0) & (boxes.visible <= 1)).all()


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('mode', ['union'])
def test_cached_mosaic_equals_mmdet(seed, mode):
    kwargs = dict(img_scale=(40, 32), max_cached_images=6)
    outs = []
    for transform in (CachedMosaic(**kwargs),
                      LossMixCachedMosaic(mode=mode, **kwargs)):
        np.random.seed(seed)
        for k in range(1, 8):  # fill the cache past its size: pops too
            transform(loaded(k, 20 + 3 * k, 30, 1 + k % 3))
        outs.append(transform(loaded(0, 30, 50, 3)))
    assert_same(outs[1], outs[0])
    assert len(outs[1]['gt_bboxes_labels']) > 3  # really a mosaic


def tile_at_edge(**fields):
    """A 20 x 20 own image as the top-left tile of a 40 x 40 canvas with
    its centre at (15, 15): the canvas shows its pixels x, y >= 5."""
    results = loaded(0, 20, 20, 0)
    results['gt_bboxes'] = LossMixBoxes(
        [[0, 8, 10, 12], [5, 5, 20, 20], [0, 0, 4, 4]], **fields)
    results['gt_bboxes_labels'] = np.array([0, 1, 2])
    results['gt_ignore_flags'] = np.zeros(3, bool)
    return with_tiles(results)


MOSAIC_AT_EDGE = dict(img_scale=(20, 20), center_ratio_range=(0.75, 0.75))


def test_box_half_cut_by_the_tile_border_weighs_half():
    out = LossMixMosaic(**MOSAIC_AT_EDGE)(
        tile_at_edge(loss_weights=[0.5, 1, 1]))
    own = out['gt_bboxes_labels'] < 10
    assert out['gt_bboxes_labels'][own].tolist() == [0, 1]  # box 2 is out
    boxes = out['gt_bboxes'][torch.from_numpy(own)]
    # [0, 8, 10, 12] moves by (-5, -5) to [-5, 3, 5, 7]: [0, 3, 5, 7] left
    np.testing.assert_array_equal(boxes.tensor.numpy(),
                                  [[0, 3, 5, 7], [0, 0, 15, 15]])
    np.testing.assert_allclose(boxes.visible.numpy(), [0.5, 1])
    np.testing.assert_allclose(boxes.loss_weights.numpy(), [0.5, 1])
    packed = PackLossMixInputs()(dict(out, ori_shape=(20, 20)))
    gt = packed['data_samples'].gt_instances
    np.testing.assert_allclose(gt.loss_weights.numpy()[:2], [0.25, 1])


def test_mask_share_instead_of_the_box_share():
    results = tile_at_edge()
    masks = np.zeros((3, 20, 20), np.uint8)
    masks[0, 8:10, 3:9] = 1  # 12 pixels, x 3..8: x >= 5 keeps 8
    masks[1, 5:20, 5:20] = 1
    masks[2, 0:4, 0:4] = 1
    results['gt_masks'] = BitmapMasks(masks, 20, 20)
    for tile in results['mix_results']:
        n, (h, w) = len(tile['gt_bboxes']), tile['img'].shape[:2]
        tile['gt_masks'] = BitmapMasks(np.ones((n, h, w), np.uint8), h, w)
    out = LossMixMosaic(**MOSAIC_AT_EDGE)(results)
    own = out['gt_bboxes_labels'] < 10
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy()[own],
                               [8 / 12, 1])
    assert out['gt_masks'].masks.shape == (len(own), 40, 40)
    assert out['gt_masks'].masks[0].sum() == 8


def test_a_smaller_image_is_scaled_up_and_empty_images_pass():
    results = loaded(0, 10, 10, 0)
    results['gt_bboxes'] = LossMixBoxes([[0, 4, 10, 6]])
    results['gt_bboxes_labels'] = np.array([0])
    results['gt_ignore_flags'] = np.zeros(1, bool)
    results = with_tiles(results)
    for tile in results['mix_results']:  # tiles without boxes
        tile['gt_bboxes'] = HorizontalBoxes(np.zeros((0, 4), np.float32))
        tile['gt_bboxes_labels'] = np.zeros(0, np.int64)
        tile['gt_ignore_flags'] = np.zeros(0, bool)
    out = LossMixMosaic(**MOSAIC_AT_EDGE)(results)
    # scaled by 2 to [0, 8, 20, 12], moved by (-5, -5): 15 of 20 wide left
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy(),
                                  [[0, 3, 15, 7]])
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(), [0.75])


def test_grayscale_beside_colour_refused():
    results = with_tiles(loaded(0, 20, 20, 2, channels=0))
    with pytest.raises(ValueError, match='same color_type'):
        LossMixMosaic(img_scale=(20, 20))(results)


def test_partner_boxes_on_another_tile_refused():
    results = with_tiles(loaded(0, 20, 20, 2), box_cls=LossMixBoxes)
    results['mix_results'][1]['gt_bboxes'].mix_group[:] = 1
    with pytest.raises(ValueError, match='blend after the mosaic'):
        LossMixMosaic(img_scale=(20, 20))(results)


@pytest.mark.parametrize('mode', ['noise', 'x', None])
def test_bad_mode_refused(mode):
    with pytest.raises(ValueError, match='mode must be one of'):
        LossMixMosaic(mode=mode)
    with pytest.raises(ValueError, match='mode must be one of'):
        LossMixCachedMosaic(mode=mode)


def test_prob_zero_returns_the_results_and_repr_names_mode():
    results = with_tiles(loaded(0, 20, 20, 2))
    before = copy.deepcopy(results)
    out = LossMixMosaic(img_scale=(20, 20), prob=0.0)(results)
    np.testing.assert_array_equal(out['img'], before['img'])
    assert "mode='lossmix'" in repr(LossMixMosaic())
    assert "mode='union'" in repr(LossMixCachedMosaic(mode='union'))


def test_a_box_beyond_its_image_is_cut_at_its_tile():
    """An annotation reaching out of its image: mmdet keeps it over the
    neighbouring tile's pixels, LossMix cuts it where its tile ends."""
    results = tile_at_edge()
    results['gt_bboxes'] = LossMixBoxes([[10, 10, 30, 20]])  # 10 px beyond
    results['gt_bboxes_labels'] = np.array([0])
    results['gt_ignore_flags'] = np.zeros(1, bool)
    stock = Mosaic(**MOSAIC_AT_EDGE)(copy.deepcopy(results))
    out = LossMixMosaic(**MOSAIC_AT_EDGE)(results)
    np.testing.assert_array_equal(stock['gt_bboxes'].tensor.numpy()[0],
                                  [5, 5, 25, 15])
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy()[0],
                                  [5, 5, 15, 15])
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy()[0], 0.5)


@pytest.mark.parametrize('mode', ['lossmix', 'union'])
def test_tiles_and_cache_entries_are_left_unchanged(mode):
    """Tiles are read, not copied whole: the partners' results and the
    cache's entries stay as they were."""
    results = with_tiles(loaded(0, 30, 50, 3), box_cls=LossMixBoxes)
    before = copy.deepcopy(results['mix_results'])
    LossMixMosaic(img_scale=(20, 20), mode=mode)(results)
    for tile, ref in zip(results['mix_results'], before):
        np.testing.assert_array_equal(tile['img'], ref['img'])
        assert torch.equal(tile['gt_bboxes'].tensor, ref['gt_bboxes'].tensor)
        assert torch.equal(tile['gt_bboxes'].visible, ref['gt_bboxes'].visible)
    cached = LossMixCachedMosaic(
        img_scale=(20, 20), max_cached_images=20, mode=mode)
    np.random.seed(0)
    for k in range(1, 8):
        cached(loaded(k, 20, 30, 3, LossMixBoxes))
    entries = copy.deepcopy(cached.results_cache)
    for k in range(3):
        cached(loaded(10 + k, 20, 30, 3, LossMixBoxes))
    for entry, ref in zip(cached.results_cache, entries):  # no pop yet
        np.testing.assert_array_equal(entry['img'], ref['img'])
        assert torch.equal(entry['gt_bboxes'].tensor, ref['gt_bboxes'].tensor)
        assert torch.equal(entry['gt_bboxes'].visible,
                           ref['gt_bboxes'].visible)
