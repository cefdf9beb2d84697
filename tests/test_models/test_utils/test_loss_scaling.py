"""assigned gt -> per-sample multipliers (loss_scaling.py), by hand."""
import torch
from mmengine.structures import InstanceData

from lossmix_mm.models.utils import (assigned_sample_weights,
                                     cls_reg_sample_weights)


def test_assigned_sample_weights_by_hand():
    inds = torch.tensor([-1, 0, 2, -1, 1, -3, 2])
    weights = torch.tensor([0.2, 0.5, 0.7])
    out = assigned_sample_weights(inds, weights)
    # a positive takes its gt's weight; any index < 0 (negative, ignored)
    # weighs 1
    assert torch.equal(out, torch.tensor([1.0, 0.2, 0.7, 1.0, 0.5, 1.0,
                                          0.7]))
    assert out.dtype == torch.float32
    assert assigned_sample_weights(inds, None) is None


def test_assigned_sample_weights_no_gt_no_sample():
    # an image without gts: every sample negative, every weight 1
    out = assigned_sample_weights(torch.full((4, ), -1), torch.zeros(0))
    assert torch.equal(out, torch.ones(4))
    out = assigned_sample_weights(torch.zeros(0, dtype=torch.long),
                                  torch.tensor([0.3]))
    assert out.shape == (0, )
    # float64 gt weights, int32 indices: float32 multipliers
    out = assigned_sample_weights(
        torch.tensor([1, -1], dtype=torch.int32),
        torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.equal(out, torch.tensor([0.75, 1.0]))


def test_cls_reg_sample_weights_by_hand():
    gts = InstanceData(bboxes=torch.zeros(2, 4), labels=torch.zeros(2))
    inds = torch.tensor([1, -1, 0])
    assert cls_reg_sample_weights(inds, gts) == (None, None)
    gts.loss_weights = torch.tensor([0.25, 0.75])
    cls_w, reg_w = cls_reg_sample_weights(inds, gts)
    assert torch.equal(cls_w, torch.tensor([0.75, 1.0, 0.25]))
    assert torch.equal(reg_w, cls_w)
    cls_w, reg_w = cls_reg_sample_weights(inds, gts, mix_cls=False)
    assert cls_w is None and torch.equal(reg_w,
                                         torch.tensor([0.75, 1.0, 0.25]))
    assert cls_reg_sample_weights(inds, gts, False, False) == (None, None)
    # reg_weights multiply the regression multiplier only, mixed or not
    gts.reg_weights = torch.tensor([0.0, 1.0])
    cls_w, reg_w = cls_reg_sample_weights(inds, gts)
    assert torch.equal(cls_w, torch.tensor([0.75, 1.0, 0.25]))
    assert torch.equal(reg_w, torch.tensor([0.75, 1.0, 0.0]))
    cls_w, reg_w = cls_reg_sample_weights(inds, gts, mix_reg=False)
    assert torch.equal(reg_w, torch.tensor([1.0, 1.0, 0.0]))
