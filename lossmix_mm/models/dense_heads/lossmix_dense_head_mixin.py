"""What the LossMix dense heads share: arguments, assignment, Eq. 14.

A dense head's adapter reads its stock assignment as the gt of each sample
(:func:`anchor_assigned_gt_inds` for anchor heads), turns it into
multipliers with :meth:`LossMixDenseHeadMixin._sample_weights` and hands
them to the stock losses (see :mod:`lossmix_mm.models.utils.sample_weights`).
:class:`LossMixAnchorHeadMixin` is the whole adapter for heads whose losses
read ``AnchorHead``'s label and bbox weights (``RPNHead``, ``RetinaHead``);
a head that restates its ``loss_by_feat`` with weights decorates it with
:func:`exact_loss_terms`.
"""
import functools
import inspect
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import multi_apply, unmap
from mmdet.utils import InstanceList, OptInstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import (SampleWeights, check_gt_labels, has_sample_weights,
                     loss_by_terms, resolve_exact_mode, sample_weights,
                     select_images, times)


def anchor_assigned_gt_inds(sampling_result: SamplingResult,
                            inside_flags: Tensor,
                            unmap_outputs: bool = True) -> Tensor:
    """The gt of each anchor, in the layout of ``AnchorHead``'s targets.

    Args:
        sampling_result (SamplingResult): the sampling of one image; its
            ``pos_inds`` index the anchors inside the image.
        inside_flags (Tensor): (A, ) bool, the anchors assigned (A_in).
        unmap_outputs (bool): return all A anchors (else the A_in inside).

    Returns:
        Tensor: (A, ) or (A_in, ) long, a positive's gt index, -1 elsewhere.
    """
    gt_inds = inside_flags.new_full((int(inside_flags.sum()), ),
                                    -1,
                                    dtype=torch.long)
    gt_inds[sampling_result.pos_inds] = \
        sampling_result.pos_assigned_gt_inds.long()
    if unmap_outputs:
        gt_inds = unmap(gt_inds, inside_flags.numel(), inside_flags, fill=-1)
    return gt_inds


def pick(weights: Optional[Tensor], inds: Tensor) -> Optional[Tensor]:
    """``weights`` flattened, at ``inds`` (the positives); None for None."""
    return None if weights is None else weights.reshape(-1)[inds]


def weights_to_levels(per_img: List[Optional[Tensor]],
                      num_level_anchors: List[int]) -> List[Optional[Tensor]]:
    """Per-image multipliers to per-level ones, as ``images_to_levels``.

    Args:
        per_img (list[Tensor or None]): B (A, ) multipliers, None for ones.
        num_level_anchors (list[int]): A_l of each level (sum A).

    Returns:
        list[Tensor or None]: per level (B, A_l); all None when every
        image's multipliers are None.
    """
    if all(w is None for w in per_img):
        return [None] * len(num_level_anchors)
    total = sum(num_level_anchors)
    device = next(w for w in per_img if w is not None).device
    stacked = torch.stack([
        torch.ones(total, device=device) if w is None else w for w in per_img
    ])
    return list(stacked.split(num_level_anchors, dim=1))


def exact_loss_terms(loss_by_feat: Callable[..., dict],
                     image_dims: Optional[Sequence[int]] = None) -> Callable:
    """Wrap a head's weighted ``loss_by_feat``: Eq. 14 term by term when
    the head is exact (:meth:`LossMixDenseHeadMixin._loss_or_terms`).

    Args:
        loss_by_feat (Callable): ``(self, *outs, batch_gt_instances,
            batch_img_metas, batch_gt_instances_ignore=None)``.
        image_dims (Sequence[int], optional): the image dimension of each
            output; None: 0 for all.

    Returns:
        Callable: the method, with the same signature.
    """
    signature = inspect.signature(loss_by_feat)
    num_outs = list(signature.parameters).index('batch_gt_instances') - 1

    @functools.wraps(loss_by_feat)
    def loss_or_terms(self, *args, **kwargs) -> dict:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = list(bound.arguments.values())[1:]
        return self._loss_or_terms(
            functools.partial(loss_by_feat, self),
            values[:num_outs],
            *values[num_outs:],
            image_dims=image_dims)

    return loss_or_terms


class LossMixDenseHeadMixin:
    """Arguments and shared steps of the LossMix dense heads.

    Put it before the stock head in the bases.

    Args:
        mix_cls (bool): positives' classification takes their gt's
            ``loss_weights``. Defaults to True.
        mix_reg (bool): their box regression and quality terms do.
            Defaults to True.
        exact (bool | str): Eq. 14 term by term
            (:func:`~lossmix_mm.models.utils.loss_by_terms`): False, True
            (the first of :attr:`exact_modes`) or a mode by name.
            Defaults to False.
    """

    reads_loss_weights = True  # see lossmix_mm/engine/union_guard.py
    #: what ``exact`` may name; ``exact=True`` is the first
    exact_modes: Tuple[str, ...] = ('two_pass', )

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 exact: Union[bool, str] = False,
                 **kwargs) -> None:
        exact_mode = resolve_exact_mode(exact, self.exact_modes,
                                        f'{type(self).__name__} exact')
        if exact_mode and not (mix_cls and mix_reg):
            raise ValueError('exact=True mixes every loss term (Eq. 14): it '
                             'needs mix_cls=True and mix_reg=True, got '
                             f'mix_cls={mix_cls}, mix_reg={mix_reg}')
        super().__init__(*args, **kwargs)
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        self.exact_mode = exact_mode
        self.exact = exact_mode is not None

    def _sample_weights(self, gt_inds: Tensor, gt_instances: InstanceData,
                        img_meta: dict) -> SampleWeights:
        """:func:`~lossmix_mm.models.utils.sample_weights` of one image,
        its gt labels checked against ``num_classes``."""
        check_gt_labels(gt_instances, self.num_classes, img_meta)
        if not has_sample_weights(gt_instances):
            return SampleWeights(None, None, None)
        return sample_weights(gt_inds, gt_instances, self.mix_cls,
                              self.mix_reg)

    def _anchor_weights(self,
                        flat_anchors: Tensor,
                        valid_flags: Tensor,
                        img_meta: dict,
                        gt_instances: InstanceData,
                        sampling_result: SamplingResult,
                        unmap_outputs: bool = True) -> SampleWeights:
        """:meth:`_sample_weights` of every anchor of one image (the
        head's inside flags; all anchors when ``unmap_outputs``)."""
        if not has_sample_weights(gt_instances):
            return self._sample_weights(None, gt_instances, img_meta)
        inside_flags = anchor_inside_flags(flat_anchors, valid_flags,
                                           img_meta['img_shape'][:2],
                                           self.train_cfg['allowed_border'])
        gt_inds = anchor_assigned_gt_inds(sampling_result, inside_flags,
                                          unmap_outputs)
        return self._sample_weights(gt_inds, gt_instances, img_meta)

    def _level_weights(self, flat_anchors: List[Tensor],
                       flat_flags: List[Tensor], batch_img_metas: List[dict],
                       batch_gt_instances: InstanceList,
                       sampling_results: List[SamplingResult],
                       num_level_anchors: List[int]) -> SampleWeights:
        """:meth:`_anchor_weights` of a batch, split per level as the
        targets are (``images_to_levels``).

        Args:
            flat_anchors (list[Tensor]): B (A, 4) anchors, levels joined.
            flat_flags (list[Tensor]): B (A, ) valid flags.
            batch_img_metas (list[dict]): B image metas.
            batch_gt_instances (InstanceList): B sets of gts.
            sampling_results (list[SamplingResult]): B samplings.
            num_level_anchors (list[int]): A_l of each level.

        Returns:
            SampleWeights: each field a per-level list of (B, A_l)
            multipliers, or of Nones where all are 1.
        """
        per_field = multi_apply(self._anchor_weights, flat_anchors, flat_flags,
                                batch_img_metas, batch_gt_instances,
                                sampling_results)
        return SampleWeights(*[
            weights_to_levels(field, num_level_anchors) for field in per_field
        ])

    def _loss_or_terms(self,
                       loss_fn: Callable[..., dict],
                       outs: Sequence,
                       batch_gt_instances: InstanceList,
                       batch_img_metas: List[dict],
                       batch_gt_instances_ignore: OptInstanceList,
                       image_dims: Optional[Sequence[int]] = None) -> dict:
        """``loss_fn`` (the head's weighted ``loss_by_feat``) on the batch;
        when exact, Eq. 14: on each term's images and gts, scaled, added.

        Args:
            loss_fn (Callable): ``loss_fn(*outs, gts, metas, ignore)``.
            outs (Sequence): the head outputs (per level lists or tensors).
            batch_gt_instances (InstanceList): B sets of gts.
            batch_img_metas (list[dict]): B image metas.
            batch_gt_instances_ignore (InstanceList, optional): B or None.
            image_dims (Sequence[int], optional): the image dimension of each
                output; None: 0 for all.

        Returns:
            dict: the losses.
        """
        if not self.exact:
            return loss_fn(*outs, batch_gt_instances, batch_img_metas,
                           batch_gt_instances_ignore)
        dims = image_dims or [0] * len(outs)

        def term_loss(term) -> dict:
            inds = term.img_inds
            ignore = None if batch_gt_instances_ignore is None else [
                batch_gt_instances_ignore[i] for i in inds
            ]
            term_outs = [
                select_images(out, inds, dim) for out, dim in zip(outs, dims)
            ]
            return loss_fn(*term_outs, term.gt_instances,
                           [batch_img_metas[i] for i in inds], ignore)

        return loss_by_terms(batch_gt_instances, batch_img_metas, term_loss)


class LossMixAnchorHeadMixin(LossMixDenseHeadMixin):
    """LossMix for heads whose losses read ``AnchorHead``'s label and bbox
    weights: only target building changes, every stock loss applies them.
    """

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """The stock ``loss_by_feat``; Eq. 14 term by term when exact."""
        return self._loss_or_terms(super().loss_by_feat,
                                   (cls_scores, bbox_preds),
                                   batch_gt_instances, batch_img_metas,
                                   batch_gt_instances_ignore)

    def _get_targets_single(self,
                            flat_anchors: Tensor,
                            valid_flags: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``AnchorHead._get_targets_single``; ``label_weights`` (S, ) and
        ``bbox_weights`` (S, D) times the classification and regression
        multipliers of each anchor."""
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds, neg_inds,
         sampling_result) = super()._get_targets_single(
             flat_anchors, valid_flags, gt_instances, img_meta,
             gt_instances_ignore, unmap_outputs)
        weights = self._anchor_weights(flat_anchors, valid_flags, img_meta,
                                       gt_instances, sampling_result,
                                       unmap_outputs)
        return (labels, times(label_weights, weights.cls), bbox_targets,
                times(bbox_weights,
                      weights.reg), pos_inds, neg_inds, sampling_result)
