"""Per-instance loss weights to per-sample target weights (pure functions).

LossMix (paper Eq. 14) trains on a mixed image x~ = lam * x_i + (1 - lam) * x_j
with lam * L(f(x~), y_i) + (1 - lam) * L(f(x~), y_j). Every ground-truth box
carries the weight of the image it came from (``gt_instances.loss_weights``);
a positive sample (anchor or RoI) takes the weight of the gt it is assigned
to. Negatives keep weight 1: background is background for both label sets,
lam * 1 + (1 - lam) * 1 = 1. Loss normalisers (``avg_factor``) are unchanged.
"""
from typing import Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.task_modules.samplers import SamplingResult


def get_gt_loss_weights(gt_instances: InstanceData) -> Optional[Tensor]:
    """Read and check ``gt_instances.loss_weights``.

    Args:
        gt_instances (InstanceData): Ground truth of one image, N instances.

    Returns:
        Tensor or None: float tensor of shape (N, ), or None when the field is
        absent (absent means all ones: stock mmdet behaviour).

    Raises:
        ValueError: if the weights are not a 1-D tensor of N finite values
            > 0. A weight of 0 would change the classification normaliser of
            mmdet's ``BBoxHead``; drop such instances instead (they carry no
            loss under Eq. 14).
    """
    if 'loss_weights' not in gt_instances:
        return None
    weights = gt_instances.loss_weights
    if not isinstance(weights, Tensor) or weights.dim() != 1 or \
            weights.numel() != len(gt_instances):
        shape = tuple(weights.shape) if isinstance(weights, Tensor) \
            else type(weights).__name__
        raise ValueError('gt_instances.loss_weights must be a 1-D tensor with '
                         f'one weight per instance ({len(gt_instances)}), '
                         f'got {shape}')
    if weights.numel() and not (torch.isfinite(weights).all()
                                and (weights > 0).all()):
        raise ValueError('gt_instances.loss_weights must be finite and > 0 '
                         '(drop instances of weight 0), got '
                         f'{weights.tolist()}')
    return weights.float()


def positive_loss_weights(pos_assigned_gt_inds: Tensor,
                          gt_weights: Tensor) -> Tensor:
    """Weight of every positive sample: the weight of its assigned gt.

    Args:
        pos_assigned_gt_inds (Tensor): (P, ) long, index of the gt each
            positive sample is assigned to.
        gt_weights (Tensor): (N, ) float, one weight per gt.

    Returns:
        Tensor: (P, ) float, ``gt_weights[pos_assigned_gt_inds]``.
    """
    if pos_assigned_gt_inds.numel() == 0:
        return gt_weights.new_zeros((0, ))
    return gt_weights[pos_assigned_gt_inds.long()]


def sampled_loss_weights(sampling_result: SamplingResult,
                         gt_weights: Optional[Tensor]) -> Tensor:
    """Weights of the samples of one image, in mmdet's RoI target order.

    ``BBoxHead.get_targets`` lays out the samples of an image as its
    positives followed by its negatives; this returns multipliers in the same
    order.

    Args:
        sampling_result (SamplingResult): Sampling of one image, with P
            positives and M negatives.
        gt_weights (Tensor, optional): (N, ) weights of the image's gts;
            None means all ones.

    Returns:
        Tensor: (P + M, ) float: the assigned gt's weight for positives, 1 for
        negatives.
    """
    num_pos = sampling_result.pos_priors.size(0)
    num_neg = sampling_result.neg_priors.size(0)
    device = sampling_result.pos_priors.device
    weights = torch.ones(num_pos + num_neg, device=device)
    if gt_weights is not None and num_pos > 0:
        weights[:num_pos] = positive_loss_weights(
            sampling_result.pos_assigned_gt_inds, gt_weights.to(device))
    return weights


def scale_target_weights(label_weights: Tensor,
                         bbox_weights: Tensor,
                         sample_weights: Tensor,
                         mix_cls: bool = True,
                         mix_reg: bool = True) -> tuple:
    """Multiply classification / regression target weights per sample.

    Args:
        label_weights (Tensor): (S, ) classification weights.
        bbox_weights (Tensor): (S, D) regression weights.
        sample_weights (Tensor): (S, ) multiplier of each sample.
        mix_cls (bool): scale ``label_weights``. Defaults to True.
        mix_reg (bool): scale ``bbox_weights``. Defaults to True.

    Returns:
        tuple[Tensor, Tensor]: the scaled (new) label and bbox weights.
    """
    sample_weights = sample_weights.to(label_weights)
    if mix_cls:
        label_weights = label_weights * sample_weights
    if mix_reg:
        bbox_weights = bbox_weights * sample_weights[:, None].to(bbox_weights)
    return label_weights, bbox_weights
