import numpy as np
import pytest
from mmdet.datasets import MultiImageMixDataset
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmengine.dataset import BaseDataset

from lossmix_mm.datasets.transforms.formatting import PackLossMixInputs
from lossmix_mm.datasets.transforms.lossmix_cutmix import (LossMixCutMix,
                                                           match_channels)
from lossmix_mm.structures import LossMixBoxes


def make_results(h, w, boxes, labels, value=100, channels=3, **extra):
    shape = (h, w, channels) if channels else (h, w)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    results = dict(
        img=np.full(shape, value, dtype=np.uint8),
        img_shape=(h, w),
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=np.asarray(labels, dtype=np.int64),
        gt_ignore_flags=np.zeros(len(boxes), dtype=bool))
    results.update(extra)
    return results


def cut(results, partner, region, **kwargs):
    """Run the transform with the patch fixed to ``region``."""
    transform = LossMixCutMix(**kwargs)
    transform.sample_patch = lambda h, w: region
    results['mix_results'] = [partner]
    return transform.transform(results)


def bitmap(h, w, *pixel_blocks):
    """One mask per (y1, y2, x1, x2) block of ones."""
    masks = np.zeros((len(pixel_blocks), h, w), dtype=np.uint8)
    for mask, (y1, y2, x1, x2) in zip(masks, pixel_blocks):
        mask[y1:y2, x1:x2] = 1
    return BitmapMasks(masks, h, w)


def third_of_own_box():
    # patch x in [4, 12) of a 12x12 image: over x in [4, 6) of the own box
    # [0, 0, 6, 6] (a third: 2/3 visible), over the whole own box
    # [6, 6, 10, 10] (removed); the partner box [0, 0, 8, 4] has x in
    # [4, 8) inside it (half: 0.5, clipped to [4, 0, 8, 4])
    own = make_results(
        12,
        12, [[0, 0, 6, 6], [6, 6, 10, 10]], [1, 2],
        gt_ignore_flags=np.array([False, True]))
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3], value=50)
    return cut(own, partner, (4, 0, 12, 12))


def test_hand_derived_third_half_and_covered():
    out = third_of_own_box()
    boxes = out['gt_bboxes']
    assert isinstance(boxes, LossMixBoxes)
    np.testing.assert_array_equal(boxes.numpy(), [[0, 0, 6, 6], [4, 0, 8, 4]])
    np.testing.assert_allclose(boxes.visible.numpy(), [2 / 3, 0.5])
    assert boxes.loss_weights.tolist() == [1.0, 1.0]
    assert boxes.mix_group.tolist() == [0, 0]
    assert boxes.reg_weights.tolist() == [1.0, 1.0]
    assert out['gt_bboxes_labels'].tolist() == [1, 3]
    assert out['gt_ignore_flags'].tolist() == [False, False]
    assert 'mix_lambda' not in out and 'mix_mode' not in out
    img = out['img']
    assert img.dtype == np.uint8 and img.shape == (12, 12, 3)
    assert (img[:, :4] == 100).all() and (img[:, 4:] == 50).all()


def test_carried_fields_compose():
    own = make_results(12, 12, [[0, 0, 6, 6]], [1])
    own['gt_bboxes'] = LossMixBoxes(
        own['gt_bboxes'].tensor, loss_weights=[0.5], visible=[0.6])
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3])
    partner['gt_bboxes'] = LossMixBoxes(
        partner['gt_bboxes'].tensor, reg_weights=[0.0], visible=[0.5])
    boxes = cut(own, partner, (4, 0, 12, 12))['gt_bboxes']
    np.testing.assert_allclose(boxes.visible.numpy(), [0.6 * 2 / 3, 0.25])
    assert boxes.loss_weights.tolist() == [0.5, 1.0]
    assert boxes.reg_weights.tolist() == [1.0, 0.0]


def test_masks_measure_visible_pixels():
    # own box [0, 0, 4, 6]: mask of 12 pixels (rows 0-2, cols 0-3); the
    # patch (rows 2-11) covers row 2: 4 pixels -> 8/12 (box-based: 1/3);
    # own box [8, 0, 12, 4] with an empty mask keeps the box-based 0.5;
    # partner box [0, 0, 12, 4]: mask rows 1-3, cols 0-1, 6 pixels, 4 in
    # the patch -> 2/3 (box-based 0.5)
    own = make_results(12, 12, [[0, 0, 4, 6], [8, 0, 12, 4]], [1, 2])
    own['gt_masks'] = bitmap(12, 12, (0, 3, 0, 4), (0, 0, 0, 0))
    own['gt_bboxes'] = LossMixBoxes(
        own['gt_bboxes'].tensor, visible=[1.0, 0.8])
    partner = make_results(12, 12, [[0, 0, 12, 4]], [3], value=50)
    partner['gt_masks'] = bitmap(12, 12, (1, 4, 0, 2))
    out = cut(own, partner, (0, 2, 12, 12))
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(),
                               [8 / 12, 0.8 * 0.5, 4 / 6])
    masks = out['gt_masks']
    assert isinstance(masks, BitmapMasks) and len(masks) == 3
    assert masks.areas.tolist() == [8, 0, 4]
    assert masks.masks[0, :2, :4].all() and masks.masks[2, 2:4, :2].all()
    # the partner's results are only read
    assert partner['gt_masks'].areas.tolist() == [6]
    np.testing.assert_array_equal(partner['gt_bboxes'].numpy(),
                                  [[0, 0, 12, 4]])
    assert (partner['img'] == 50).all()


def test_mask_fully_covered_removes_the_box():
    # the box is only partly under the patch, its mask wholly: v 0
    own = make_results(12, 12, [[0, 0, 12, 12]], [1])
    own['gt_masks'] = bitmap(12, 12, (0, 4, 0, 4))
    partner = make_results(12, 12, [[6, 6, 8, 8]], [3])
    partner['gt_masks'] = bitmap(12, 12, (6, 8, 6, 8))
    out = cut(own, partner, (0, 0, 6, 6))
    assert out['gt_bboxes_labels'].tolist() == []
    assert len(out['gt_masks']) == 0 and len(out['gt_bboxes']) == 0


def test_polygon_masks_raise():
    own = make_results(12, 12, [[0, 0, 4, 4]], [1])
    own['gt_masks'] = PolygonMasks([[np.array([0., 0, 4, 0, 4, 4])]], 12, 12)
    partner = make_results(12, 12, [[0, 0, 4, 4]], [1])
    partner['gt_masks'] = own['gt_masks']
    with pytest.raises(ValueError, match=r'BitmapMasks, got PolygonMasks'):
        cut(own, partner, (0, 0, 6, 6))


def test_masks_on_one_image_only_raise():
    own = make_results(12, 12, [[0, 0, 4, 4]], [1])
    own['gt_masks'] = bitmap(12, 12, (0, 4, 0, 4))
    partner = make_results(12, 12, [[0, 0, 4, 4]], [1])
    with pytest.raises(ValueError, match='gt_masks on only one'):
        cut(own, partner, (0, 0, 6, 6))


def test_empty_own_boxes():
    own = make_results(12, 12, np.zeros((0, 4)), [])
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3], value=50)
    out = cut(own, partner, (4, 0, 12, 12))
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(), [[4, 0, 8, 4]])
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(), [0.5])
    assert out['gt_bboxes_labels'].tolist() == [3]


def test_empty_partner_boxes_still_paste_pixels():
    own = make_results(12, 12, [[0, 0, 6, 6]], [1])
    partner = make_results(12, 12, np.zeros((0, 4)), [], value=50)
    out = cut(own, partner, (4, 0, 12, 12))
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(), [2 / 3])
    assert out['gt_bboxes_labels'].tolist() == [1]
    assert (out['img'][:, 4:] == 50).all()


def test_partner_of_another_size_is_resized():
    # partner (h, w) = (6, 24) -> (12, 12): sx = 0.5, sy = 2; its left half
    # is 50 and right half 200; the box [0, 0, 8, 2] becomes [0, 0, 4, 4]
    own = make_results(12, 12, [[0, 0, 6, 6]], [1])
    partner = make_results(6, 24, [[0, 0, 8, 2]], [3], value=50)
    partner['img'][:, 12:] = 200
    partner['gt_masks'] = bitmap(6, 24, (0, 2, 0, 8))
    own['gt_masks'] = bitmap(12, 12, (0, 6, 0, 6))
    out = cut(own, partner, (0, 0, 12, 12))
    assert out['img'].shape == (12, 12, 3)
    assert (out['img'][:, :6] == 50).all() and (out['img'][:, 6:] == 200).all()
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(), [[0, 0, 4, 4]])
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(), [1.0])
    assert out['gt_bboxes_labels'].tolist() == [3]  # the own box is covered
    assert out['gt_masks'].masks.shape == (1, 12, 12)
    assert out['gt_masks'].areas.tolist() == [16]


def test_grayscale_own_with_colour_partner():
    # BGR (10, 20, 30) -> gray 0.114 * 10 + 0.587 * 20 + 0.299 * 30 = 21.85
    own = make_results(12, 12, [[0, 0, 6, 6]], [1], channels=0)
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3])
    partner['img'][:] = (10, 20, 30)
    out = cut(own, partner, (4, 0, 12, 12))
    assert out['img'].shape == (12, 12) and out['img'].dtype == np.uint8
    assert (out['img'][:, 4:] == 22).all() and (out['img'][:, :4] == 100).all()


def test_colour_own_with_grayscale_partner():
    own = make_results(12, 12, [[0, 0, 6, 6]], [1])
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3], value=7, channels=1)
    out = cut(own, partner, (4, 0, 12, 12))
    assert out['img'].shape == (12, 12, 3)
    assert (out['img'][:, 4:] == 7).all() and (out['img'][:, :4] == 100).all()


def test_channels_that_do_not_convert_raise():
    with pytest.raises(ValueError, match='4 channels onto one of 3'):
        match_channels(np.zeros((2, 2, 4)), np.zeros((2, 2, 3)))


@pytest.mark.parametrize('kwargs,match', [
    (dict(alpha=0), 'alpha must be a finite number > 0, got 0'),
    (dict(alpha=-1.0), 'alpha .* got -1.0'),
    (dict(alpha=float('nan')), 'alpha .* got nan'),
    (dict(alpha=float('inf')), 'alpha .* got inf'),
    (dict(alpha=True), 'alpha .* got True'),
    (dict(prob=-0.1), r'prob must be a number in \[0, 1\], got -0.1'),
    (dict(prob=1.5), r'prob .* got 1.5'),
    (dict(prob=float('nan')), r'prob .* got nan'),
    (dict(mode='x'), r"mode must be one of \('lossmix', 'union'\), got 'x'"),
    (dict(mode='noise'), r"mode must be one of .* got 'noise'"),
    (dict(bbox_clip_border='yes'), "bbox_clip_border .* got 'yes'"),
])
def test_bad_arguments_raise_at_build(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TRANSFORMS.build(dict(type='LossMixCutMix', **kwargs))


def test_packed_weights_and_thresholds():
    out = third_of_own_box()  # own v 2/3, partner v 0.5
    sample = PackLossMixInputs()(dict(out))['data_samples']
    gt = sample.gt_instances
    np.testing.assert_allclose(gt.loss_weights.numpy(), [2 / 3, 0.5])
    np.testing.assert_allclose(gt.visible.numpy(), [2 / 3, 0.5])
    assert gt.mix_group.tolist() == [0, 0] and 'reg_weights' not in gt
    assert 'mix_lambda' not in sample.metainfo

    sample = PackLossMixInputs(min_visible=0.6)(dict(out))['data_samples']
    assert sample.gt_instances.labels.tolist() == [1]
    assert sample.ignored_instances.labels.tolist() == [3]

    gt = PackLossMixInputs(reg_min_visible=0.6)(
        dict(out))['data_samples'].gt_instances
    assert gt.labels.tolist() == [1, 3]
    assert gt.reg_weights.tolist() == [1.0, 0.0]


def test_union_keeps_types_boxes_and_fields():
    own = make_results(12, 12, [[0, 0, 6, 6], [6, 6, 10, 10]], [1, 2])
    partner = make_results(12, 12, [[0, 0, 8, 4], [0, 6, 2, 8]], [3, 4])
    out = cut(own, partner, (4, 0, 12, 12), mode='union')
    assert type(out['gt_bboxes']) is HorizontalBoxes
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(),
                                  [[0, 0, 6, 6], [6, 6, 10, 10], [4, 0, 8, 4]])
    assert out['gt_bboxes_labels'].tolist() == [1, 2, 3]

    own = make_results(12, 12, [[6, 6, 10, 10]], [2])
    own['gt_bboxes'] = LossMixBoxes(own['gt_bboxes'].tensor, visible=[0.5])
    out = cut(
        own,
        make_results(12, 12, [[0, 0, 8, 4]], [3]), (4, 0, 12, 12),
        mode='union')
    assert out['gt_bboxes'].visible.tolist() == [0.5, 1.0]


def test_union_and_lossmix_share_pixels_and_draws():
    images = []
    for mode in ('lossmix', 'union'):
        own = make_results(16, 20, [[0, 0, 6, 6]], [1])
        partner = make_results(16, 20, [[0, 0, 8, 4]], [3], value=50)
        own['mix_results'] = [partner]
        np.random.seed(3)
        images.append(LossMixCutMix(mode=mode).transform(own)['img'])
    np.testing.assert_array_equal(images[0], images[1])
    assert (images[0] == 50).any() and (images[0] == 100).any()


def test_no_clip_keeps_partner_extent():
    own = make_results(12, 12, np.zeros((0, 4)), [])
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3])
    out = cut(own, partner, (4, 0, 12, 12), bbox_clip_border=False)
    np.testing.assert_array_equal(out['gt_bboxes'].numpy(), [[0, 0, 8, 4]])
    np.testing.assert_allclose(out['gt_bboxes'].visible.numpy(), [0.5])


def test_seeded_patch_draw():
    transform = LossMixCutMix(alpha=1.0)
    np.random.seed(0)
    # draws r 0.449, cx 0.404, cy 13.32: half sides 10 * sqrt(r) = 6.70,
    # 8 * sqrt(r) = 5.36 -> x [-6.30, 7.11], y [7.96, 18.68], clipped
    assert transform.sample_patch(16, 20) == (0, 8, 7, 16)
    assert transform.sample_patch(16, 20) == (0, 12, 7, 16)


def test_patch_area_follows_the_beta_draw():
    # seed 8, Beta(2, 2): r 0.3374, centre (86.09, 40.24) in a 100x200
    # image: sides 200 * sqrt(r) = 116.17 and 100 * sqrt(r) = 58.09, not
    # clipped: the patch covers r of the area with the image's aspect
    np.random.seed(8)
    r = np.random.beta(2.0, 2.0)
    np.random.seed(8)
    x1, y1, x2, y2 = LossMixCutMix(alpha=2.0).sample_patch(100, 200)
    assert (x1, y1, x2, y2) == (28, 11, 144, 69)
    assert abs((x2 - x1) * (y2 - y1) / (100 * 200) - r) < 0.002


def test_same_view_partner_is_not_mixed():
    own = make_results(12, 12, [[0, 0, 6, 6]], [1], img_path='a.jpg')
    partner = make_results(12, 12, [[0, 0, 6, 6]], [1], img_path='a.jpg')
    out = cut(own, partner, (0, 0, 12, 12))
    assert out['gt_bboxes'].visible.tolist() == [1.0]
    assert out['gt_bboxes_labels'].tolist() == [1]


def test_union_with_array_boxes_and_masks():
    own = make_results(12, 12, [[0, 0, 6, 6]], [1])
    own['gt_bboxes'] = own['gt_bboxes'].numpy()
    own['gt_masks'] = bitmap(12, 12, (0, 6, 0, 6))
    partner = make_results(12, 12, [[0, 0, 8, 4]], [3])
    partner['gt_masks'] = bitmap(12, 12, (0, 4, 0, 8))
    out = cut(own, partner, (0, 0, 6, 6), mode='union')
    assert isinstance(out['gt_bboxes'], np.ndarray)
    np.testing.assert_array_equal(out['gt_bboxes'],
                                  [[0, 0, 6, 6], [0, 0, 6, 4]])
    assert out['gt_masks'].areas.tolist() == [0, 24]


def test_prob_and_no_partner():

    class Data:

        def __len__(self):
            return 5

    np.random.seed(0)
    assert LossMixCutMix(prob=0.0).get_indexes(Data()) == []
    np.random.seed(0)
    index = LossMixCutMix().get_indexes(Data())
    np.random.seed(0)
    assert index == [np.random.randint(0, 5)]
    own = make_results(12, 12, [[0, 0, 6, 6]], [1], mix_results=[])
    before = own['img'].copy()
    out = LossMixCutMix().transform(own)
    assert isinstance(out['gt_bboxes'], LossMixBoxes)
    np.testing.assert_array_equal(out['img'], before)


def test_needs_mix_results_and_refuses_blended():
    with pytest.raises(KeyError, match='MultiImageMixDataset'):
        LossMixCutMix().transform(make_results(4, 4, [[0, 0, 2, 2]], [0]))
    own = make_results(12, 12, [[0, 0, 6, 6]], [1], mix_lambda=0.5)
    with pytest.raises(ValueError, match='blended already'):
        cut(own, make_results(12, 12, [[0, 0, 4, 4]], [1]), (0, 0, 6, 6))


class TinyDataset(BaseDataset):
    METAINFO = dict(classes=('a', 'b', 'c', 'd'))

    def load_data_list(self):
        return [
            make_results(12, 12, [[0, 0, 6, 6]], [1], img_path='a.jpg'),
            make_results(
                12, 12, [[0, 0, 8, 4]], [3], value=50, img_path='b.jpg')
        ]


def test_through_multi_image_mix_dataset():
    dataset = MultiImageMixDataset(
        TinyDataset(serialize_data=False),
        [dict(type='LossMixCutMix'),
         dict(type='PackLossMixInputs')])
    # seed 1 draws the partner index 1 ('b.jpg'), then the patch
    # (1, 4, 8, 12): the own box [0, 0, 6, 6] loses x 1-6 by y 4-6, 10 of
    # its 36 pixels; the partner box [0, 0, 8, 4] is outside the patch
    np.random.seed(1)
    out = dataset[0]
    gt = out['data_samples'].gt_instances
    assert gt.labels.tolist() == [1]
    np.testing.assert_allclose(gt.loss_weights.numpy(), [26 / 36])
    expected = np.full((3, 12, 12), 100, dtype=np.uint8)
    expected[:, 4:12, 1:8] = 50
    np.testing.assert_array_equal(out['inputs'].numpy(), expected)
