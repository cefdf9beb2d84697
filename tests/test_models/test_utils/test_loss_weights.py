import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.models.task_modules.samplers import SamplingResult
from lossmix_mm.models.utils import (get_gt_loss_weights,
                                     positive_loss_weights,
                                     sampled_loss_weights,
                                     scale_target_weights)


def gts(n, weights=None):
    gt = InstanceData(bboxes=torch.rand(n, 4), labels=torch.zeros(n).long())
    if weights is not None:
        gt.loss_weights = torch.tensor(weights)
    return gt


def test_get_gt_loss_weights():
    assert get_gt_loss_weights(gts(2)) is None
    torch.testing.assert_close(
        get_gt_loss_weights(gts(2, [0.25, 1.0])), torch.tensor([0.25, 1.0]))
    assert get_gt_loss_weights(gts(0, [])).shape == (0, )
    with pytest.raises(ValueError, match='> 0'):
        get_gt_loss_weights(gts(2, [0.0, 1.0]))
    with pytest.raises(ValueError, match='> 0'):
        get_gt_loss_weights(gts(1, [float('nan')]))
    bad = gts(2)
    bad.loss_weights = torch.ones(2, 1)
    with pytest.raises(ValueError, match='1-D'):
        get_gt_loss_weights(bad)


def test_positive_and_sampled_weights():
    gt_w = torch.tensor([0.2, 0.9])
    torch.testing.assert_close(
        positive_loss_weights(torch.tensor([1, 0, 1]), gt_w),
        torch.tensor([0.9, 0.2, 0.9]))
    assert positive_loss_weights(torch.zeros(0).long(), gt_w).shape == (0, )

    priors = torch.rand(5, 4)
    gt_bboxes = torch.rand(2, 4)
    assigned = torch.tensor([2, 1, 0, 0, 0])  # 1-based gt index, 0 = bg
    res = SamplingResult(
        pos_inds=torch.tensor([0, 1]),
        neg_inds=torch.tensor([2, 3, 4]),
        priors=priors,
        gt_bboxes=gt_bboxes,
        assign_result=_assign(assigned),
        gt_flags=torch.zeros(5, dtype=torch.uint8))
    # positives (gt 1 then gt 0) first, negatives after: mmdet's RoI order
    torch.testing.assert_close(
        sampled_loss_weights(res, gt_w),
        torch.tensor([0.9, 0.2, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(sampled_loss_weights(res, None), torch.ones(5))


def _assign(gt_inds):
    from mmdet.models.task_modules.assigners import AssignResult
    labels = torch.where(gt_inds > 0, torch.zeros_like(gt_inds), -1)
    return AssignResult(2, gt_inds, torch.ones(len(gt_inds)), labels)


def test_scale_target_weights():
    lw = torch.tensor([1.0, 1.0, 1.0])
    bw = torch.ones(3, 4)
    w = torch.tensor([0.5, 0.25, 1.0])
    new_lw, new_bw = scale_target_weights(lw, bw, w)
    torch.testing.assert_close(new_lw, w)
    torch.testing.assert_close(new_bw, w[:, None].expand(3, 4))
    assert torch.equal(lw, torch.ones(3))  # inputs untouched
    only_cls = scale_target_weights(lw, bw, w, mix_reg=False)
    torch.testing.assert_close(only_cls[1], bw)
    only_reg = scale_target_weights(lw, bw, w, mix_cls=False)
    torch.testing.assert_close(only_reg[0], lw)
