"""``LossMixBoxes.visible``: what a clip or a pasted patch leaves of each
box, hand-derived."""
import copy

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.structures import LossMixBoxes

# box 0 is 10 x 10, box 1 is 20 x 10, box 2 has zero area
BOXES = [[0, 0, 10, 10], [5, 5, 25, 15], [30, 30, 30, 40]]


def boxes(visible=None):
    return LossMixBoxes(
        np.array(BOXES, np.float32),
        loss_weights=[0.5, 0.5, 1.0],
        visible=visible)


def test_default_is_one_and_follows_indexing_cat_and_copies():
    b = boxes(visible=[0.25, 0.5, 1.0])
    assert LossMixBoxes(BOXES).visible.tolist() == [1, 1, 1]
    assert b[torch.tensor([2, 0])].visible.tolist() == [1.0, 0.25]
    assert b[np.array([False, True, False])].visible.tolist() == [0.5]
    assert LossMixBoxes.cat([b, HorizontalBoxes(BOXES[:1])
                             ]).visible.tolist() == [0.25, 0.5, 1, 1]
    assert copy.deepcopy(b).visible.tolist() == [0.25, 0.5, 1]
    assert b.clone().visible.tolist() == [0.25, 0.5, 1]


def test_clip_multiplies_in_the_share_left():
    b = boxes(visible=[1.0, 0.5, 1.0])
    b.clip_((10, 20))  # h 10, w 20
    np.testing.assert_allclose(
        b.tensor.numpy(), [[0, 0, 10, 10], [5, 5, 20, 10], [20, 10, 20, 10]])
    # box 0 whole; box 1 keeps 15 x 5 of 20 x 10, times its 0.5; box 2 has
    # no area: unchanged
    np.testing.assert_allclose(b.visible.numpy(), [1, 0.5 * 75 / 200, 1])


def test_clip_to_a_region_and_twice_composes():
    b = boxes()
    b.clip_to_((5, 0, 15, 10))
    # box 0 keeps [5, 0, 10, 10]: 1/2; box 1 keeps [5, 5, 15, 10]: 50 / 200
    np.testing.assert_allclose(b.visible.numpy()[:2], [0.5, 0.25])
    b.clip_to_((0, 0, 15, 5))
    # box 0 then keeps [5, 0, 10, 5] of [5, 0, 10, 10]: 1/2 again; box 1 is
    # left with no area: 0
    np.testing.assert_allclose(b.visible.numpy()[:2], [0.25, 0.0])


def test_occlude_keeps_the_boxes_and_multiplies_the_share_outside():
    b = boxes(visible=[0.5, 1.0, 1.0])
    b.occlude_((0, 0, 10, 5))
    np.testing.assert_allclose(b.tensor.numpy(), BOXES)
    # box 0: the patch covers half of it; box 1: [5, 5, 10, 5] has no area,
    # nothing covered; box 2: zero area, unchanged
    np.testing.assert_allclose(b.visible.numpy(), [0.25, 1, 1])
    b.occlude_((5, 5, 25, 15))  # box 1 wholly covered
    np.testing.assert_allclose(b.visible.numpy(), [0.25 * 0.75, 0, 1])


def test_visible_is_checked_like_the_other_fields():
    with pytest.raises(ValueError, match='visible must have one entry per'):
        boxes(visible=[1.0, 1.0])


def test_clip_to_one_region_per_box_equals_clipping_each():
    regions = [(5, 0, 15, 10), (0, 0, 15, 5), (0, 0, 50, 50)]
    each = boxes(visible=[1.0, 0.5, 1.0])
    for k, region in enumerate(regions):
        box = each[k:k + 1]
        box.clip_to_(region)
        each[k:k + 1] = box
    at_once = boxes(visible=[1.0, 0.5, 1.0])
    at_once.clip_to_(torch.tensor(regions, dtype=torch.float32))
    assert at_once.tensor.tolist() == each.tensor.tolist()
    # box 0 keeps half; box 1 [5, 5, 15, 5]: no area, 0; box 2 unchanged
    assert at_once.visible.tolist() == each.visible.tolist() == [0.5, 0, 1]
