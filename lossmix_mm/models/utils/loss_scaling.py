"""The shared mechanism of every LossMix head: assigned gt -> sample weight.

Every head family builds targets differently, but each ends with an
assignment: sample s (an anchor, a point, a RoI, a query) is positive for
gt ``g(s)`` or negative. LossMix multiplies the loss terms of a positive by
the weight of ``g(s)`` and leaves negatives and normalisers alone. A
per-family adapter finds ``g(s)`` (``-1`` for negatives) in the order of the
head's flattened loss inputs; :func:`assigned_sample_weights` turns it into
per-sample multipliers; and where the stock head has no weight argument to
scale (FCOS's classification, ATSS's centerness, RTMDet's box loss),
:func:`scaled_loss` multiplies the ``weight`` a stock loss module receives
for the duration of one call.
"""
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from .loss_weights import get_gt_loss_weights, get_gt_reg_weights


def assigned_sample_weights(assigned_gt_inds: Tensor,
                            gt_weights: Optional[Tensor]) -> Optional[Tensor]:
    """Per-sample multiplier: the weight of the assigned gt, 1 elsewhere.

    Args:
        assigned_gt_inds (Tensor): (S, ) long, index of the gt sample s is
            positive for, or -1 (any value < 0: negative or ignored).
        gt_weights (Tensor, optional): (N, ) float, one weight per gt; None
            means all ones.

    Returns:
        Tensor or None: (S, ) float on the device of ``assigned_gt_inds``;
        None when ``gt_weights`` is None.
    """
    if gt_weights is None:
        return None
    # one gather from the gt weights with a trailing 1, which every index
    # < 0 reads: no mask, no host sync (the RPN does this per image over
    # all its anchors)
    num_gts = gt_weights.numel()
    table = torch.ones(num_gts + 1, device=assigned_gt_inds.device)
    table[:num_gts] = gt_weights
    return table[assigned_gt_inds.long().clamp(min=-1)]


def cls_reg_sample_weights(
        assigned_gt_inds: Tensor,
        gt_instances: InstanceData,
        mix_cls: bool = True,
        mix_reg: bool = True) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """Classification and regression multipliers of the samples of an image.

    Args:
        assigned_gt_inds (Tensor): (S, ) long, assigned gt or -1.
        gt_instances (InstanceData): the image's N gts, optional
            ``loss_weights`` and ``reg_weights`` (N, ).
        mix_cls (bool): the classification multiplier carries
            ``loss_weights``. Defaults to True.
        mix_reg (bool): the regression multiplier carries ``loss_weights``.
            Defaults to True.

    Returns:
        tuple[Tensor or None, Tensor or None]: (S, ) classification and
        regression multipliers (the latter also times ``reg_weights``); None
        where every multiplier is 1 by construction (fields absent or
        switched off), so a head can fall back to the stock path.
    """
    loss_weights = get_gt_loss_weights(gt_instances)
    reg_weights = get_gt_reg_weights(gt_instances)
    mixed = assigned_sample_weights(
        assigned_gt_inds, loss_weights if mix_cls or mix_reg else None)
    # one tensor for both when both are mixed (callers never modify them)
    cls_w = mixed if mix_cls else None
    reg_w = mixed if mix_reg else None
    reg_only = assigned_sample_weights(assigned_gt_inds, reg_weights)
    if reg_only is not None:
        reg_w = reg_only if reg_w is None else reg_w * reg_only
    return cls_w, reg_w


class ScaledWeightLoss(nn.Module):
    """A stock loss module whose ``weight`` argument is multiplied by a
    fixed per-sample scale (see :func:`scaled_loss`).

    Args:
        loss (nn.Module): an mmdet loss, ``forward(pred, target, weight=None,
            ...)``.
        scale (Tensor): (S, ...) multiplier; broadcast against ``weight``
            (trailing dims added), or used as the weight when the call has
            none (then it must already have the shape the loss expects).

    Only for losses whose third argument is a per-sample ``weight``: mmdet's
    mask ``CrossEntropyLoss`` (``use_mask=True``) reads it as the class
    label; mask losses go through
    :func:`~lossmix_mm.models.utils.roi_weighted_loss` instead.
    """

    def __init__(self, loss: nn.Module, scale: Tensor) -> None:
        super().__init__()
        self.loss = loss
        self.scale = scale

    def __getattr__(self, name: str):
        """Attributes of the wrapped loss (e.g. ``custom_accuracy``, which
        heads query while the loss is wrapped) read through."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules['loss'], name)

    def forward(self, pred, target, weight=None, *args, **kwargs):
        scale = self.scale
        if weight is None:
            weight = scale
        else:
            scale = scale.to(weight)
            while scale.dim() < weight.dim():
                scale = scale[..., None]
            weight = weight * scale
        return self.loss(pred, target, weight, *args, **kwargs)


@contextmanager
def scaled_loss(owner: nn.Module, name: str,
                scale: Optional[Tensor]) -> Iterator[None]:
    """Within the block, ``owner.<name>`` multiplies the weight of its
    calls by ``scale`` (nothing changes when ``scale`` is None).

    Args:
        owner (nn.Module): the head holding the loss module.
        name (str): its attribute, e.g. ``'loss_centerness'``.
        scale (Tensor, optional): see :class:`ScaledWeightLoss`.
    """
    if scale is None:
        yield
        return
    original = getattr(owner, name)
    setattr(owner, name, ScaledWeightLoss(original, scale))
    try:
        yield
    finally:
        setattr(owner, name, original)
