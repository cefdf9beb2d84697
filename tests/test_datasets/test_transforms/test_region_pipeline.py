"""Weights compose along a region pipeline: ``w = c * v`` with ``v`` the
product of what each step leaves and ``c`` the blend's coefficient."""
import numpy as np
import torch
from mmdet.structures.bbox import HorizontalBoxes

from lossmix_mm.datasets.transforms import (LossMixMixUp, LossMixMosaic,
                                            PackLossMixInputs)
from lossmix_mm.structures import LossMixBoxes

LAM = 0.25


def image(h, w, boxes, labels, value):
    return dict(
        img=np.full((h, w, 3), value, np.uint8),
        img_shape=(h, w),
        ori_shape=(h, w),
        img_path=f'{value}.png',
        gt_bboxes=LossMixBoxes(np.asarray(boxes, np.float32).reshape(-1, 4)),
        gt_bboxes_labels=np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(len(labels), bool))


def mosaic_then_mixup():
    """Own 20 x 20 image as the top-left tile of a 40 x 40 canvas centred at
    (15, 15) (the canvas shows its pixels x, y >= 5), three empty tiles; then
    MixUp at lam 0.25 with a 40 x 40 partner placed whole (scale 1, no flip,
    no crop offset)."""
    own = image(20, 20, [[0, 8, 10, 12], [5, 5, 20, 20]], [0, 1], 10)
    own['mix_results'] = [image(20, 20, [], [], 20 + k) for k in range(3)]
    mosaic = LossMixMosaic(img_scale=(20, 20), center_ratio_range=(0.75, 0.75))
    out = mosaic(own)
    out.pop('mix_results')
    partner = image(40, 40, [[30, 30, 50, 40]], [5], 200)
    mixup = LossMixMixUp(
        img_scale=(40, 40), ratio_range=(1.0, 1.0), flip_ratio=1.0)
    mixup.sample_lambda = lambda: LAM
    out['mix_results'] = [partner]
    out = mixup(out)
    out.pop('mix_results')
    return out


def test_mixup_after_mosaic_weighs_lam_times_v():
    out = mosaic_then_mixup()
    boxes = out['gt_bboxes']
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 5]
    # own box 0 half cut by the canvas (v 0.5), own box 1 whole; the
    # partner's [30, 30, 50, 40] keeps [30, 30, 40, 40] of the 40 x 40
    # image: v 0.5
    np.testing.assert_allclose(boxes.visible.numpy(), [0.5, 1, 0.5])
    np.testing.assert_allclose(boxes.loss_weights.numpy(), [LAM, LAM, 1 - LAM])
    assert boxes.mix_group.tolist() == [0, 0, 1]
    assert out['mix_lambda'] == LAM
    gt = PackLossMixInputs()(out)['data_samples'].gt_instances
    np.testing.assert_allclose(gt.loss_weights.numpy(),
                               [LAM * 0.5, LAM, (1 - LAM) * 0.5])
    np.testing.assert_allclose(
        out['img'][0, 0], [0.25 * 10 + 0.75 * 200] * 3, atol=1)


def test_thresholds_on_the_composed_visible_share():
    out = mosaic_then_mixup()
    packed = PackLossMixInputs(min_visible=0.6, reg_min_visible=1.0)(out)
    sample = packed['data_samples']
    assert sample.gt_instances.labels.tolist() == [1]
    assert sample.ignored_instances.labels.tolist() == [0, 5]
    np.testing.assert_allclose(sample.gt_instances.reg_weights.numpy(), [1])
    assert isinstance(sample.gt_instances.bboxes, HorizontalBoxes)
    assert torch.equal(sample.gt_instances.bboxes.tensor,
                       torch.tensor([[0., 0., 15., 15.]]))
