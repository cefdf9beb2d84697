import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks, PolygonMasks

from lossmix_mm.mixing.masks import (cat_masks, mask_pixels, mask_visible,
                                     place_masks)


def square(x0, y0, x1, y1):
    return [np.array([x0, y0, x1, y0, x1, y1, x0, y1], dtype=np.float64)]


def test_place_bitmap_hand_derived():
    # a 3x4 image padded to 4x5 masks: only the image's region moves
    masks = np.zeros((1, 4, 5), np.uint8)
    masks[0, 1, 2] = 1
    masks[0, 3, 4] = 1  # in the padding: dropped
    out = place_masks(BitmapMasks(masks, 4, 5), (3, 4), (6, 7), (2, 1))
    assert (out.height, out.width) == (6, 7)
    assert out.masks.shape == (1, 6, 7)
    assert list(zip(*np.nonzero(out.masks[0]))) == [(2, 4)]


def test_place_polygon_matches_bitmap():
    poly = PolygonMasks([square(1, 0, 3, 2), square(0, 1, 1, 3)], 3, 4)
    out = place_masks(poly, (3, 4), (5, 9), (4, 2))
    assert isinstance(out, PolygonMasks)
    assert (out.height, out.width) == (5, 9)
    np.testing.assert_allclose(out.masks[0][0], square(5, 2, 7, 4)[0])
    bitmap = place_masks(poly.to_bitmap(), (3, 4), (5, 9), (4, 2))
    np.testing.assert_array_equal(out.to_ndarray(), bitmap.masks)


@pytest.mark.parametrize(
    'masks',
    [BitmapMasks(np.zeros((0, 3, 4), np.uint8), 3, 4),
     PolygonMasks([], 3, 4)])
def test_place_empty(masks):
    out = place_masks(masks, (3, 4), (5, 6), (1, 1))
    assert type(out) is type(masks)
    assert (len(out), out.height, out.width) == (0, 5, 6)
    assert out.to_ndarray().shape == (0, 5, 6)


def test_place_rejects():
    masks = BitmapMasks(np.zeros((1, 3, 4), np.uint8), 3, 4)
    with pytest.raises(ValueError, match='does not fit'):
        place_masks(masks, (3, 4), (4, 4), (1, 0))
    with pytest.raises(TypeError, match='BitmapMasks or PolygonMasks'):
        place_masks(np.zeros((1, 3, 4)), (3, 4), (3, 4), (0, 0))


def test_cat_checks_types_and_sizes():
    a = BitmapMasks(np.ones((1, 3, 4), np.uint8), 3, 4)
    b = BitmapMasks(np.zeros((2, 3, 4), np.uint8), 3, 4)
    out = cat_masks([a, b])
    assert (len(out), out.height, out.width) == (3, 3, 4)
    assert out.masks[0].all() and not out.masks[1:].any()
    with pytest.raises(ValueError, match='sizes'):
        cat_masks([a, BitmapMasks(np.ones((1, 3, 5), np.uint8), 3, 5)])
    # PolygonMasks.cat would keep the first size silently
    with pytest.raises(ValueError, match='sizes'):
        cat_masks([
            PolygonMasks([square(0, 0, 1, 1)], 3, 4),
            PolygonMasks([square(0, 0, 1, 1)], 5, 4)
        ])
    with pytest.raises(TypeError, match='PolygonMasks'):
        cat_masks([a, PolygonMasks([square(0, 0, 1, 1)], 3, 4)])
    with pytest.raises(ValueError, match='nothing'):
        cat_masks([])


def test_mask_visible_share_and_fallback():
    """carried * pixels after / pixels before; a mask without pixels
    before keeps the box-based share."""
    after = np.zeros((3, 4, 4), np.uint8)
    after[0, :2, :2] = 1  # 4 of 8 pixels left
    after[1, 0, :3] = 1  # 3 of 3 left
    share = mask_visible(
        np.array([8, 3, 0]), BitmapMasks(after, 4, 4),
        torch.tensor([0.5, 1.0, 1.0]), torch.tensor([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(share.numpy(), [0.25, 1.0, 0.3])
    assert mask_pixels(after).tolist() == [4, 3, 0]
