"""How a box's weight becomes a loss multiplier, in every LossMix head.

LossMix trains on x~ = lam * x_i + (1 - lam) * x_j with
L = lam * L(f(x~), y_i) + (1 - lam) * L(f(x~), y_j) (paper Eq. 14). Every
gt box carries ``gt_instances.loss_weights`` (lam for the own image's boxes,
1 - lam for the partner's), optionally ``reg_weights`` (box regression only,
e.g. 0 for pseudo-boxes) and ``mix_group`` (0 own, 1 partner).

The path, the same for anchors, points, RoIs and matched queries:

1. The stock head assigns its samples to the gts; the adapter reads the
   assignment as ``gt_inds`` (S, ): the gt of each positive, -1 for the
   others (``SamplingResult.pos_assigned_gt_inds``, ``AssignResult.gt_inds``
   - 1, ...).
2. :func:`sample_weights` turns it into three (S, ) multipliers: ``cls``
   (the gt's loss weight for a positive, 1 for a negative: background is
   background for both label sets, lam * 1 + (1 - lam) * 1 = 1), ``reg``
   (the same times the gt's ``reg_weights``) and ``quality`` (box-quality
   branches such as centerness: the loss weight only).
3. The adapter multiplies the stock target weights by them
   (``label_weights``, ``bbox_weights``: RPN, RetinaNet, DETR family, RoI
   heads) or, where the stock loss has no weight for a term, passes them as
   ``weight=`` to the stock loss module from an override shaped like the
   stock method (FCOS's ``loss_by_feat``, ATSS's and RTMDet's
   ``loss_by_feat_single``). Normalisers (``avg_factor``) never change, so
   absent or all-ones weights give the stock loss.

Adding LossMix to another mmdet head: subclass it after
``LossMixDenseHeadMixin`` (``lossmix_mm/models/dense_heads``), read the
assignment where the stock head builds its targets, call
``self._sample_weights(gt_inds, gt_instances, img_meta)`` (it also checks
the gt labels) and multiply the weights of step 3; ``exact=True`` then
needs only the ``@exact_loss_terms`` decorator on a restated
``loss_by_feat`` (or ``self._loss_or_terms(super().loss_by_feat, ...)``).

Exact mode (``exact=True``) computes Eq. 14 literally with
:func:`loss_by_terms`: the gts are split by ``mix_group``
(:func:`~lossmix_mm.models.utils.mix_group_passes`), and each term is the
head's stock loss against one label set over the images that have it. The
term's gts carry the image's coefficient as metainfo ``mix_coeff``, which
:func:`sample_weights` applies to every sample of the image, so the same
path scales the terms.
"""
from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from .loss_weights import get_gt_loss_weights, get_gt_reg_weights
from .mix_groups import GroupPass, mix_group_passes, sum_pass_losses


class SampleWeights(NamedTuple):
    """Per-sample multipliers of one image; None where all are 1.

    Attributes:
        cls (Tensor, optional): (S, ) classification multipliers.
        reg (Tensor, optional): (S, ) box-regression multipliers.
        quality (Tensor, optional): (S, ) box-quality multipliers.
    """
    cls: Optional[Tensor]
    reg: Optional[Tensor]
    quality: Optional[Tensor]


def assigned_sample_weights(assigned_gt_inds: Tensor,
                            gt_weights: Optional[Tensor]) -> Optional[Tensor]:
    """Per-sample multiplier: the weight of the assigned gt, 1 elsewhere.

    Args:
        assigned_gt_inds (Tensor): (S, ) long, the gt of each positive; any
            value < 0 for a negative or ignored sample.
        gt_weights (Tensor, optional): (N, ) one weight per gt; None means
            all ones.

    Returns:
        Tensor or None: (S, ) float32 on the device of ``assigned_gt_inds``;
        None when ``gt_weights`` is None.
    """
    if gt_weights is None:
        return None
    # a gather from the weights with a trailing 1 that every index < 0
    # reads: no mask, no host sync
    num_gts = gt_weights.numel()
    table = torch.ones(num_gts + 1, device=assigned_gt_inds.device)
    table[:num_gts] = gt_weights
    return table[assigned_gt_inds.long().clamp(min=-1)]


def cls_reg_sample_weights(
        assigned_gt_inds: Tensor,
        gt_instances: InstanceData,
        mix_cls: bool = True,
        mix_reg: bool = True) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """Classification and regression multipliers (``mix_coeff`` ignored).

    Args:
        assigned_gt_inds (Tensor): (S, ) long, assigned gt or -1.
        gt_instances (InstanceData): N gts, optional ``loss_weights`` and
            ``reg_weights`` (N, ).
        mix_cls (bool): classification takes ``loss_weights``.
        mix_reg (bool): regression takes ``loss_weights``.

    Returns:
        tuple[Tensor or None, Tensor or None]: (S, ) multipliers, the
        regression one also times ``reg_weights``; None where all are 1 by
        construction (fields absent or switched off).
    """
    loss_weights = get_gt_loss_weights(gt_instances)
    reg_weights = get_gt_reg_weights(gt_instances)
    mixed = assigned_sample_weights(
        assigned_gt_inds, loss_weights if mix_cls or mix_reg else None)
    cls_w = mixed if mix_cls else None
    reg_w = mixed if mix_reg else None
    reg_only = assigned_sample_weights(assigned_gt_inds, reg_weights)
    if reg_only is not None:
        reg_w = reg_only if reg_w is None else reg_w * reg_only
    return cls_w, reg_w


def has_sample_weights(gt_instances: InstanceData) -> bool:
    """Whether the samples of an image may weigh other than 1: loss or
    regression weights present, or an exact-mode ``mix_coeff`` other than 1
    (False: the stock path runs, no assignment needs reading)."""
    return ('loss_weights' in gt_instances or 'reg_weights' in gt_instances
            or gt_instances.metainfo.get('mix_coeff', 1.0) != 1.0)


def sample_weights(assigned_gt_inds: Tensor,
                   gt_instances: InstanceData,
                   mix_cls: bool = True,
                   mix_reg: bool = True) -> SampleWeights:
    """The multipliers of every sample of one image (step 2 above).

    Args:
        assigned_gt_inds (Tensor): (S, ) long, assigned gt or -1.
        gt_instances (InstanceData): N gts, optional ``loss_weights`` /
            ``reg_weights`` (N, ) and, in an exact-mode term, metainfo
            ``mix_coeff`` (multiplies every sample, negatives included).
        mix_cls (bool): classification takes ``loss_weights``.
        mix_reg (bool): regression and quality take ``loss_weights``.

    Returns:
        SampleWeights: (S, ) float multipliers; None where all are 1 by
        construction, so the stock path runs.
    """
    cls_w, reg_w = cls_reg_sample_weights(assigned_gt_inds, gt_instances,
                                          mix_cls, mix_reg)
    quality_w = assigned_sample_weights(
        assigned_gt_inds,
        get_gt_loss_weights(gt_instances) if mix_reg else None)
    weights = SampleWeights(cls_w, reg_w, quality_w)
    coeff = float(gt_instances.metainfo.get('mix_coeff', 1.0))
    if coeff == 1.0:
        return weights
    ones = torch.ones(assigned_gt_inds.shape, device=assigned_gt_inds.device)
    return SampleWeights(
        *[coeff * (ones if w is None else w) for w in weights])


def times(values: Tensor, multiplier: Optional[Tensor]) -> Tensor:
    """``values`` times a per-sample multiplier (trailing dims broadcast);
    ``values`` itself when the multiplier is None."""
    if multiplier is None:
        return values
    multiplier = multiplier.to(values)
    while multiplier.dim() < values.dim():
        multiplier = multiplier[..., None]
    return values * multiplier


def check_gt_labels(gt_instances: InstanceData, num_classes: int,
                    img_meta: dict) -> None:
    """Refuse gt labels outside [0, num_classes) with a clear error.

    Args:
        gt_instances (InstanceData): the gts of one image, ``labels`` (N, ).
        num_classes (int): the head's foreground classes.
        img_meta (dict): the image's metainfo (named in the error).

    Raises:
        ValueError: naming the image, the bad label and ``num_classes``.
    """
    labels = gt_instances.get('labels')
    if labels is None or labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low >= 0 and high < num_classes:
        return
    bad = low if low < 0 else high
    image = img_meta.get('img_path', img_meta.get('img_id'))
    raise ValueError(f'gt label {bad} of image {image!r} is out of range: '
                     f'labels must be in [0, {num_classes}) for a head of '
                     f'num_classes={num_classes}')


def loss_by_terms(batch_gt_instances: InstanceList,
                  batch_img_metas: List[dict],
                  term_loss: Callable[[GroupPass], dict]) -> dict:
    """Eq. 14 over a batch: one stock loss per term, scaled and added.

    The one pass loop of every LossMix head's exact mode.

    Args:
        batch_gt_instances (InstanceList): B sets of gts.
        batch_img_metas (list[dict]): B image metas.
        term_loss (Callable[[GroupPass], dict]): the head's stock loss over
            the term's images (``img_inds``) and gts (``gt_instances``,
            tagged with ``mix_coeff``).

    Returns:
        dict: the summed losses (see :func:`sum_pass_losses`).
    """
    terms = mix_group_passes(batch_gt_instances, batch_img_metas)
    return sum_pass_losses([term_loss(term) for term in terms],
                           [term.loss_scale for term in terms])


def select_images(outputs, img_inds: List[int], dim: int = 0):
    """The images ``img_inds`` of head outputs (tensors, lists, None).

    Args:
        outputs: a tensor (images on ``dim``), a list / tuple of them (nested
            as the head returns them) or None.
        img_inds (list[int]): the images to keep, in order.
        dim (int): the image dimension of the tensors. Defaults to 0.

    Returns:
        the same structure with only those images.
    """
    if outputs is None:
        return None
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(
            select_images(out, img_inds, dim) for out in outputs)
    if outputs.size(dim) == len(img_inds) and \
            img_inds == list(range(len(img_inds))):
        return outputs
    index = torch.tensor(img_inds, device=outputs.device)
    return outputs.index_select(dim, index)
