"""Per-instance loss weights to per-sample target weights (pure functions).

LossMix (paper Eq. 14) trains on a mixed image x~ = lam * x_i + (1 - lam) * x_j
with lam * L(f(x~), y_i) + (1 - lam) * L(f(x~), y_j). Every ground-truth box
carries the weight of the image it came from (``gt_instances.loss_weights``);
a positive sample (anchor or RoI) takes the weight of the gt it is assigned
to. Negatives keep weight 1: background is background for both label sets,
lam * 1 + (1 - lam) * 1 = 1. Loss normalisers (``avg_factor``) are unchanged.

Independently, ``gt_instances.reg_weights`` scales only the box regression of
the positives assigned to each gt (e.g. 0 for pseudo-boxes in domain
adaptation: they train classification, not regression).
"""
from typing import Optional

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmengine.structures import InstanceData
from torch import Tensor


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
    return _checked_instance_weights(
        gt_instances, 'loss_weights', 0.0, 'finite and > 0 (drop instances of '
        'weight 0)')


def get_gt_reg_weights(gt_instances: InstanceData) -> Optional[Tensor]:
    """Read and check ``gt_instances.reg_weights`` (per-box regression).

    A positive sample's regression target weight is multiplied by the
    ``reg_weights`` of its gt, on top of ``loss_weights``; classification is
    never touched. 0 is allowed (e.g. pseudo-boxes that should train
    objectness and class but not box regression). Checked in the installed
    mmdet 3.3.0: no box-loss normaliser depends on the regression weights.
    ``AnchorHead.loss_by_feat`` divides by the sum of
    ``SamplingResult.avg_factor`` (positives + negatives, positives only
    with ``PseudoSampler``); ``BBoxHead.loss`` passes
    ``avg_factor=bbox_targets.size(0)``, the number of sampled RoIs; and
    ``L1Loss`` / ``SmoothL1Loss`` return the plain (zero) sum when no weight
    is > 0.

    Args:
        gt_instances (InstanceData): Ground truth of one image, N instances.

    Returns:
        Tensor or None: float tensor of shape (N, ), or None when the field is
        absent (absent means all ones: stock mmdet behaviour).

    Raises:
        ValueError: if the weights are not a 1-D tensor of N finite values
            >= 0.
    """
    return _checked_instance_weights(gt_instances, 'reg_weights', None,
                                     'finite and >= 0')


def _checked_instance_weights(gt_instances: InstanceData, key: str,
                              exclusive_min: Optional[float],
                              rule: str) -> Optional[Tensor]:
    """``gt_instances.<key>`` as float (N, ), checked; None when absent.

    Args:
        gt_instances (InstanceData): N instances.
        key (str): the instance field.
        exclusive_min (float, optional): values must be > it; None: >= 0.
        rule (str): the rule, for the error message.
    """
    if key not in gt_instances:
        return None
    weights = gt_instances.get(key)
    if not isinstance(weights, Tensor) or weights.dim() != 1 or \
            weights.numel() != len(gt_instances):
        shape = tuple(weights.shape) if isinstance(weights, Tensor) \
            else type(weights).__name__
        raise ValueError(f'gt_instances.{key} must be a 1-D tensor with '
                         f'one weight per instance ({len(gt_instances)}), '
                         f'got {shape}')
    if weights.numel():
        ok = weights > exclusive_min if exclusive_min is not None \
            else weights >= 0
        if not (torch.isfinite(weights).all() and ok.all()):
            raise ValueError(f'gt_instances.{key} must be {rule}, got '
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
                         sample_weights: Optional[Tensor],
                         mix_cls: bool = True,
                         mix_reg: bool = True,
                         reg_weights: Optional[Tensor] = None) -> tuple:
    """Multiply classification / regression target weights per sample.

    Args:
        label_weights (Tensor): (S, ) classification weights.
        bbox_weights (Tensor): (S, D) regression weights.
        sample_weights (Tensor, optional): (S, ) LossMix multiplier of each
            sample; None means all ones.
        mix_cls (bool): scale ``label_weights`` by ``sample_weights``.
            Defaults to True.
        mix_reg (bool): scale ``bbox_weights`` by ``sample_weights``.
            Defaults to True.
        reg_weights (Tensor, optional): (S, ) per-box regression multiplier
            of each sample, applied to ``bbox_weights`` whatever ``mix_reg``
            says; None means all ones. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: the scaled (new) label and bbox weights.
    """
    if sample_weights is not None:
        sample_weights = sample_weights.to(label_weights)
        if mix_cls:
            label_weights = label_weights * sample_weights
        if mix_reg:
            bbox_weights = bbox_weights * sample_weights[:,
                                                         None].to(bbox_weights)
    if reg_weights is not None:
        bbox_weights = bbox_weights * reg_weights[:, None].to(bbox_weights)
    return label_weights, bbox_weights
