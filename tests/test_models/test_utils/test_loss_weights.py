import pytest
import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmengine.structures import InstanceData

from lossmix_mm.models.utils import (get_gt_loss_weights, get_gt_reg_weights,
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


def test_get_gt_reg_weights():
    gt = gts(2)
    assert get_gt_reg_weights(gt) is None
    gt.reg_weights = torch.tensor([0.0, 1.0])  # 0 allowed: no regression
    torch.testing.assert_close(
        get_gt_reg_weights(gt), torch.tensor([0.0, 1.0]))
    gt.reg_weights = torch.tensor([1, 0])  # integer input becomes float
    assert get_gt_reg_weights(gt).dtype == torch.float32
    empty = gts(0)
    empty.reg_weights = torch.zeros(0)
    assert get_gt_reg_weights(empty).shape == (0, )
    for bad in ([-0.5, 1.0], [float('nan'), 1.0], [float('inf'), 1.0]):
        gt.reg_weights = torch.tensor(bad)
        with pytest.raises(
                ValueError,
                match=r'reg_weights must be finite '
                r'and >= 0, got \[' + str(bad[0])):
            get_gt_reg_weights(gt)
    gt.reg_weights = torch.ones(2, 1)
    with pytest.raises(ValueError, match=r'1-D .* \(2\), got \(2, 1\)'):
        get_gt_reg_weights(gt)
    gt.reg_weights = [1.0, 0.0]
    with pytest.raises(ValueError, match='tensor .* got list'):
        get_gt_reg_weights(gt)
    # a field of another length: InstanceData itself refuses it
    with pytest.raises(AssertionError):
        gt.reg_weights = torch.ones(3)


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


def test_scale_target_weights_reg_weights():
    """reg_weights scale only bbox_weights, on top of the loss weights and
    whatever mix_reg says."""
    lw = torch.ones(3)
    bw = torch.ones(3, 4)
    w = torch.tensor([0.5, 0.25, 1.0])
    reg = torch.tensor([0.0, 1.0, 1.0])
    new_lw, new_bw = scale_target_weights(lw, bw, w, reg_weights=reg)
    torch.testing.assert_close(new_lw, w)
    torch.testing.assert_close(new_bw[:, 0], torch.tensor([0.0, 0.25, 1.0]))
    new_lw, new_bw = scale_target_weights(
        lw, bw, w, mix_cls=False, mix_reg=False, reg_weights=reg)
    torch.testing.assert_close(new_lw, lw)
    torch.testing.assert_close(new_bw, reg[:, None].expand(3, 4))
    new_lw, new_bw = scale_target_weights(lw, bw, None, reg_weights=reg)
    assert new_lw is lw
    torch.testing.assert_close(new_bw, reg[:, None].expand(3, 4))
