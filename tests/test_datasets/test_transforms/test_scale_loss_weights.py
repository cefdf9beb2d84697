import math

import numpy as np
import pytest
import torch
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.utils import register_all_modules

from lossmix_mm.datasets.transforms import PackLossMixInputs, ScaleLossWeights
from lossmix_mm.structures import LossMixBoxes

register_all_modules()


def results(boxes):
    return dict(
        img=np.zeros((20, 30, 3), np.uint8),
        img_shape=(20, 30),
        gt_bboxes=boxes,
        gt_bboxes_labels=np.arange(len(boxes), dtype=np.int64),
        gt_ignore_flags=np.zeros(len(boxes), bool))


def test_plain_boxes_pack_at_the_scale():
    """Union's plain boxes: every packed weight is the scale, the boxes,
    labels and (absent) regression weights unchanged."""
    boxes = HorizontalBoxes(torch.tensor([[0., 0, 4, 4], [5, 5, 9, 12]]))
    out = PackLossMixInputs()(ScaleLossWeights(scale=0.4)(results(boxes)))
    gt = out['data_samples'].gt_instances
    assert torch.allclose(gt.loss_weights, torch.tensor([0.4, 0.4]))
    assert gt.mix_group.tolist() == [0, 0]
    assert 'reg_weights' not in gt
    assert torch.equal(gt.bboxes.tensor, boxes.tensor)
    assert gt.labels.tolist() == [0, 1]


def test_lossmix_boxes_multiply_and_keep_their_fields():
    """Weights 0.5 and 1 at scale 0.4 become 0.2 and 0.4; the group, the
    regression weight and the visible share stay; the input is untouched."""
    boxes = LossMixBoxes(
        torch.tensor([[0., 0, 4, 4], [5, 5, 9, 12]]),
        loss_weights=[0.5, 1.0],
        mix_group=[1, 0],
        reg_weights=[0.0, 1.0],
        visible=[1.0, 0.5])
    out = ScaleLossWeights(scale=0.4)(results(boxes))['gt_bboxes']
    assert torch.allclose(out.loss_weights, torch.tensor([0.2, 0.4]))
    assert out.mix_group.tolist() == [1, 0]
    assert out.reg_weights.tolist() == [0.0, 1.0]
    assert out.visible.tolist() == [1.0, 0.5]
    assert boxes.loss_weights.tolist() == [0.5, 1.0]


def test_empty_and_missing_boxes():
    out = ScaleLossWeights(scale=0.4)(
        results(HorizontalBoxes(torch.zeros(0, 4))))
    assert isinstance(out['gt_bboxes'], LossMixBoxes)
    assert len(out['gt_bboxes']) == 0
    no_boxes = dict(img=np.zeros((4, 4, 3), np.uint8))
    assert 'gt_bboxes' not in ScaleLossWeights(scale=0.4)(no_boxes)


def test_built_from_the_registry():
    t = TRANSFORMS.build(dict(type='ScaleLossWeights', scale=0.25))
    assert t.scale == 0.25
    assert repr(t) == 'ScaleLossWeights(scale=0.25)'


@pytest.mark.parametrize('scale', [0, -0.5, math.nan, math.inf, True, '1'])
def test_bad_scale(scale):
    with pytest.raises(
            ValueError,
            match=r'scale must be a finite number > 0'
            rf', got {scale!r}'):
        ScaleLossWeights(scale=scale)
