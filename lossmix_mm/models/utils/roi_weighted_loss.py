"""Per-RoI weights for a stock loss that takes none (mask losses).

mmdet's mask loss, ``CrossEntropyLoss(use_mask=True)`` (``FCNMaskHead``'s
default), calls ``mask_cross_entropy``, which asserts ``reduction='mean'``
and ``avg_factor=None`` and has no per-sample weight: it is the mean of the
binary cross-entropy over the R positive RoIs x P pixels of each,

    L = 1 / (R P) * sum_r sum_p bce(r, p) = 1 / R * sum_r l_r,

with l_r the mean over the P pixels of RoI r. The LossMix loss, each RoI
weighted by w_r and the normaliser unchanged, is 1 / R * sum_r w_r l_r.
Group the RoIs by their weight, G_u = {r : w_r = u} with n_u members; the
stock loss of a group is 1 / n_u * sum_{r in G_u} l_r, so

    1 / R * sum_r w_r l_r = sum_u u * (n_u / R) * L(G_u),

exactly, whatever the loss's ``loss_weight`` or ``class_weight`` (both act
per element). LossMix has few distinct weights (lam and 1 - lam per image),
so this is a handful of stock-loss calls. A single group of weight 1 is one
stock call on all RoIs times 1.0: the stock value, bit for bit.
"""
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import torch
from torch import Tensor, nn


def roi_weighted_mean(loss_fn: Callable[..., Tensor], roi_weights: Tensor,
                      pred: Tensor, *args, **kwargs) -> Tensor:
    """1 / R * sum_r w_r l_r for a loss that is the mean of l_r over RoIs.

    Args:
        loss_fn (Callable): the stock loss, called as ``loss_fn(pred[G],
            *args[G], **kwargs)`` on each group G of RoIs of equal weight.
            It must be the mean over its RoIs of a per-RoI term with the
            same number of elements per RoI (mmdet's mask
            ``CrossEntropyLoss``: BCE averaged over R x H x W).
        roi_weights (Tensor): (R, ) float, the weight of each RoI.
        pred (Tensor): (R, ...) predictions.
        *args: further positional inputs of ``loss_fn``; tensors whose first
            dimension is R (targets (R, H, W), labels (R, )) are split with
            ``pred``, anything else is passed as is.
        **kwargs: keyword inputs of ``loss_fn``, passed as is.

    Returns:
        Tensor: the weighted loss, shaped like ``loss_fn``'s output.
    """
    num_rois = pred.size(0)
    if num_rois == 0:
        return loss_fn(pred, *args, **kwargs)
    if roi_weights.shape != (num_rois, ):
        raise ValueError(f'one weight per RoI ({num_rois}) expected, got '
                         f'shape {tuple(roi_weights.shape)}')
    values, group_of = torch.unique(roi_weights, return_inverse=True)
    total = None
    for k, value in enumerate(values.tolist()):
        members = torch.nonzero(group_of == k, as_tuple=True)[0]
        if members.numel() == num_rois:  # one group: no copy, same order
            group_args, group_pred = args, pred
        else:
            group_pred = pred[members]
            group_args = tuple(a[members] if isinstance(a, Tensor)
                               and a.dim() > 0 and a.size(0) == num_rois else a
                               for a in args)
        part = loss_fn(group_pred, *group_args, **kwargs)
        part = part * (value * (members.numel() / num_rois))
        total = part if total is None else total + part
    return total


class RoIWeightedLoss(nn.Module):
    """A stock loss module whose calls weight each RoI (see
    :func:`roi_weighted_mean`).

    Args:
        loss (nn.Module): the stock loss, ``forward(pred, target, ...)``.
        roi_weights (Tensor): (R, ) the weight of each RoI of the next call.
    """

    def __init__(self, loss: nn.Module, roi_weights: Tensor) -> None:
        super().__init__()
        self.loss = loss
        self.roi_weights = roi_weights

    def forward(self, pred: Tensor, *args, **kwargs) -> Tensor:
        return roi_weighted_mean(self.loss, self.roi_weights, pred, *args,
                                 **kwargs)


@contextmanager
def roi_weighted_loss(owner: nn.Module, name: str,
                      roi_weights: Optional[Tensor]) -> Iterator[None]:
    """Within the block, ``owner.<name>`` weights each RoI of its calls by
    ``roi_weights`` (nothing changes when it is None).

    Args:
        owner (nn.Module): the head holding the loss, e.g. an
            ``FCNMaskHead``.
        name (str): the loss attribute, e.g. ``'loss_mask'``.
        roi_weights (Tensor, optional): (R, ), see :class:`RoIWeightedLoss`.
    """
    if roi_weights is None:
        yield
        return
    original = getattr(owner, name)
    setattr(owner, name, RoIWeightedLoss(original, roi_weights))
    try:
        yield
    finally:
        setattr(owner, name, original)
