"""``PackLossMixInputs`` packs ``w = c * v``: the weight a box's image
gives times the share of the box still visible; ``min_visible`` and
``reg_min_visible`` flip the ignore flag and the regression weight."""
import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.datasets.transforms import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes

# an 8 x 10 image; box 3 reaches out of it (not clipped by any transform):
# [6, 4, 14, 8] keeps [6, 4, 10, 8], half of it
BOXES = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4], [6, 4, 14, 8]],
                 np.float32)
C = [0.25, 0.25, 0.75, 1.0]
V = [1.0, 0.6, 0.2, 1.0]  # box 3: 0.5 once the packer measures the image


def results(visible=V, ignore=(False, False, False, False)):
    return dict(
        img=np.zeros((8, 10, 3), np.uint8),
        img_id=1,
        img_path='a.jpg',
        ori_shape=(8, 10),
        img_shape=(8, 10),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=LossMixBoxes(BOXES, loss_weights=C, visible=visible),
        gt_bboxes_labels=np.arange(4),
        gt_ignore_flags=np.array(ignore))


def test_weights_are_c_times_v_and_v_is_packed():
    gt = PackLossMixInputs()(results())['data_samples'].gt_instances
    np.testing.assert_allclose(gt.visible.numpy(), [1, 0.6, 0.2, 0.5])
    np.testing.assert_allclose(gt.loss_weights.numpy(),
                               [0.25, 0.25 * 0.6, 0.75 * 0.2, 0.5])
    assert 'reg_weights' not in gt
    # the boxes themselves are untouched (box 3 is not clipped)
    np.testing.assert_array_equal(gt.bboxes.numpy(), BOXES)


def test_min_visible_ignores_and_reg_min_visible_drops_regression():
    pack = PackLossMixInputs(min_visible=0.3, reg_min_visible=0.55)
    sample = pack(results())['data_samples']
    gt, ignored = sample.gt_instances, sample.ignored_instances
    assert gt.labels.tolist() == [0, 1, 3]
    assert ignored.labels.tolist() == [2]  # v 0.2 < 0.3
    np.testing.assert_allclose(gt.loss_weights.numpy(),
                               [0.25, 0.25 * 0.6, 0.5])
    # v 0.5 < 0.55: box 3 trains classification only
    np.testing.assert_allclose(gt.reg_weights.numpy(), [1, 1, 0])
    # an ignored box keeps its image's weight c (it trains nothing)
    np.testing.assert_allclose(ignored.loss_weights.numpy(), [0.75])


def test_thresholds_at_the_value_keep_the_box():
    pack = PackLossMixInputs(min_visible=0.2, reg_min_visible=0.5)
    gt = pack(results())['data_samples'].gt_instances
    assert gt.labels.tolist() == [0, 1, 2, 3]
    # box 3 at v 0.5 keeps its regression, box 2 at 0.2 does not
    np.testing.assert_allclose(gt.reg_weights.numpy(), [1, 1, 0, 1])


def test_nothing_visible_is_ignored_whatever_the_threshold():
    sample = PackLossMixInputs()(results(visible=[1, 0, 1, 1]))['data_samples']
    assert sample.ignored_instances.labels.tolist() == [1]
    np.testing.assert_allclose(sample.ignored_instances.loss_weights, [0.25])
    # the own ignore flags stay
    sample = PackLossMixInputs()(results(ignore=(True, False, False, False)))
    assert sample['data_samples'].ignored_instances.labels.tolist() == [0]


def test_all_visible_ones_equal_the_old_weights_and_plain_boxes_stock():
    r = results(visible=None)
    r['gt_bboxes'] = LossMixBoxes(BOXES[:3], loss_weights=C[:3])
    r['gt_bboxes_labels'] = np.arange(3)
    r['gt_ignore_flags'] = np.zeros(3, bool)
    gt = PackLossMixInputs(
        min_visible=1.0, reg_min_visible=1.0)(r)['data_samples'].gt_instances
    np.testing.assert_allclose(gt.loss_weights.numpy(), C[:3])
    plain = results()
    plain['gt_bboxes'] = HorizontalBoxes(BOXES)
    ours = PackLossMixInputs(min_visible=0.9)(dict(plain))['data_samples']
    stock = PackDetInputs()(dict(plain))['data_samples']
    assert ours.gt_instances.keys() == stock.gt_instances.keys()
    assert torch.equal(ours.gt_instances.bboxes.tensor,
                       stock.gt_instances.bboxes.tensor)


@pytest.mark.parametrize('name', ['min_visible', 'reg_min_visible'])
@pytest.mark.parametrize('value', [-0.1, 1.5, float('nan'), True, '0.5'])
def test_bad_thresholds_refused_at_build(name, value):
    with pytest.raises(ValueError, match=f'{name} must be a number in'):
        PackLossMixInputs(**{name: value})


def test_visible_outside_zero_one_refused():
    with pytest.raises(ValueError, match='visible must be finite and in'):
        PackLossMixInputs()(results(visible=[1, 1.5, 1, 1]))
