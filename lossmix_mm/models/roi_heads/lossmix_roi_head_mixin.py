"""What the LossMix RoI heads share: each sampled RoI's multipliers from
its assigned gt, the input checks and the exact (Eq. 14) terms."""
from typing import ContextManager, List, Optional, Tuple, Union

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor, nn

from ..utils import (EXACT_MODES, check_gt_labels, loss_by_terms,
                     resolve_exact_mode, roi_weighted_loss, sample_weights,
                     select_images, times)

OptTensor = Optional[Tensor]


class LossMixRoIHeadMixin:
    """LossMix weights for an mmdet RoI head (put it first in the bases).

    :meth:`loss` checks the gts and runs the head's :meth:`weighted_loss`
    (the stock ``loss`` with the gts passed on to ``bbox_loss``), or, with
    ``exact``, Eq. 14 by :func:`~lossmix_mm.models.utils.loss_by_terms`:
    ``'two_pass'`` runs :meth:`weighted_loss` once per label set, each
    image weighted by its coefficient (gt metainfo ``mix_coeff``);
    ``'single_pass'`` is the head's ``single_pass_loss``.

    A positive RoI's multipliers are its assigned gt's ``loss_weights``
    (classification with ``mix_cls``, regression with ``mix_reg``, mask
    with ``mix_mask``) and ``reg_weights`` (regression only); negatives
    and normalisers are unchanged.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        mix_mask (bool): weight the mask loss. Defaults to True.
        exact (bool | str): False, True (the first of :attr:`exact_modes`)
            or one of them by name; needs the three flags on. Defaults to
            False.
        **kwargs: the RoI head's own arguments.
    """
    reads_loss_weights = True
    #: what ``exact`` may name; ``exact=True`` is the first
    exact_modes: Tuple[str, ...] = EXACT_MODES

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 mix_mask: bool = True,
                 exact: Union[bool, str] = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exact_mode = resolve_exact_mode(exact, self.exact_modes,
                                             f'{type(self).__name__} exact')
        if self.exact_mode and not (mix_cls and mix_reg and mix_mask):
            raise ValueError(f'exact={exact!r} mixes every loss term (Eq. '
                             '14): it needs mix_cls=True, mix_reg=True and '
                             f'mix_mask=True, got mix_cls={mix_cls}, '
                             f'mix_reg={mix_reg}, mix_mask={mix_mask}')
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        self.mix_mask = mix_mask
        self.exact = self.exact_mode is not None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """The RoI losses of a batch, weighted (or Eq. 14 with ``exact``).

        Returns:
            dict: the keys of the stock head's ``loss``.
        """
        gts, gts_ignore, metas = unpack_gt_instances(batch_data_samples)
        check_gt_instances(gts, metas, self._num_classes())
        if not self.exact:
            return self.weighted_loss(x, rpn_results_list, gts, gts_ignore,
                                      metas)
        if self.exact_mode == 'single_pass':
            return self.single_pass_loss(x, rpn_results_list, gts, gts_ignore,
                                         metas)

        def term_loss(term):
            inds = term.img_inds
            return self.weighted_loss(
                select_images(x, inds),
                [rpn_results_list[i].clone() for i in inds], term.gt_instances,
                [gts_ignore[i] for i in inds], [metas[i] for i in inds])

        return loss_by_terms(gts, metas, term_loss)

    def weighted_loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                      batch_gt_instances: InstanceList,
                      batch_gt_instances_ignore: list,
                      batch_img_metas: List[dict]) -> dict:
        """The stock head's ``loss`` on unpacked inputs, its ``bbox_loss``
        given the gts (:meth:`weighted_bbox_targets`) and its ``mask_loss``
        run inside :meth:`weighted_mask_loss`; written by each head."""
        raise NotImplementedError(
            f'{type(self).__name__} must implement weighted_loss')

    def _num_classes(self) -> int:
        """The classes of the (first) box head."""
        bbox_head = self.bbox_head
        if isinstance(bbox_head, nn.ModuleList):
            bbox_head = bbox_head[0]
        return bbox_head.num_classes

    @staticmethod
    def sample(assigner, sampler, x: Tuple[Tensor], results_list: InstanceList,
               batch_gt_instances: InstanceList,
               batch_gt_instances_ignore: list) -> List[SamplingResult]:
        """The stock per-image assignment and sampling of the proposals
        (``bboxes`` renamed ``priors``, as the stock ``loss`` does)."""
        sampling_results = []
        for i, results in enumerate(results_list):
            results.priors = results.pop('bboxes')
            assign_result = assigner.assign(results, batch_gt_instances[i],
                                            batch_gt_instances_ignore[i])
            sampling_results.append(
                sampler.sample(
                    assign_result,
                    results,
                    batch_gt_instances[i],
                    feats=[lvl[i][None] for lvl in x]))
        return sampling_results

    def roi_weights(self,
                    sampling_results: List[SamplingResult],
                    batch_gt_instances: InstanceList,
                    mix_cls: bool,
                    mix_reg: bool,
                    pos_only: bool = False) -> Tuple[OptTensor, OptTensor]:
        """Classification and regression multipliers of the sampled RoIs
        (:func:`~lossmix_mm.models.utils.sample_weights` of each image).

        Args:
            sampling_results (list[SamplingResult]): one per image.
            batch_gt_instances (InstanceList): the gts they were sampled
                against (with ``mix_coeff`` in an exact term).
            mix_cls (bool): the first carries ``loss_weights``.
            mix_reg (bool): the second carries ``loss_weights``.
            pos_only (bool): only the positives. Defaults to False.

        Returns:
            tuple[Tensor | None, Tensor | None]: (S, ) each, in the stock
            target order (an image's positives, then its negatives); None
            where every multiplier is 1 by construction.
        """
        parts = []
        for res, gts in zip(sampling_results, batch_gt_instances):
            assigned = res.pos_assigned_gt_inds
            if not pos_only:
                assigned = torch.cat(
                    [assigned,
                     assigned.new_full(res.neg_inds.shape, -1)])
            weights = sample_weights(assigned, gts, mix_cls, mix_reg)
            parts.append((len(assigned), weights.cls, weights.reg))
        return (_cat_or_none([(n, w) for n, w, _ in parts]),
                _cat_or_none([(n, w) for n, _, w in parts]))

    def weighted_bbox_targets(self, bbox_head: nn.Module,
                              sampling_results: List[SamplingResult],
                              batch_gt_instances: InstanceList,
                              rcnn_train_cfg: ConfigType) -> tuple:
        """``bbox_head.get_targets`` with each RoI's multipliers applied.

        Returns:
            tuple: (labels, label_weights, bbox_targets, bbox_weights) of
            the S sampled RoIs, (S, ), (S, ), (S, 4), (S, 4).
        """
        labels, label_weights, bbox_targets, bbox_weights = \
            bbox_head.get_targets(sampling_results, rcnn_train_cfg)
        cls_w, reg_w = self.roi_weights(sampling_results, batch_gt_instances,
                                        self.mix_cls, self.mix_reg)
        return labels, times(label_weights, cls_w), bbox_targets, \
            times(bbox_weights, reg_w)

    def weighted_mask_loss(self, mask_head: nn.Module,
                           sampling_results: List[SamplingResult],
                           batch_gt_instances: InstanceList) -> ContextManager:
        """A context in which ``mask_head.loss_mask`` weights each positive
        RoI by its gt's ``loss_weights`` (with ``mix_mask``) and the
        image's coefficient, its normaliser unchanged (see
        :func:`~lossmix_mm.models.utils.roi_weighted_mean`)."""
        weights = self.roi_weights(
            sampling_results,
            batch_gt_instances,
            self.mix_mask,
            False,
            pos_only=True)[0]
        if weights is not None and not isinstance(
                getattr(mask_head, 'loss_mask', None), nn.Module):
            raise TypeError(f'{type(self).__name__} weights the mask loss '
                            'module `loss_mask` of the mask head, which '
                            f'{type(mask_head).__name__} lacks; set '
                            'mix_mask=False to train its masks unweighted')
        return roi_weighted_loss(mask_head, 'loss_mask', weights)


def _cat_or_none(parts: List[Tuple[int, OptTensor]]) -> OptTensor:
    """Concatenate per-image (n, weights or None) parts, None as ones;
    None when every part is None."""
    if all(w is None for _, w in parts):
        return None
    like = next(w for _, w in parts if w is not None)
    return torch.cat([like.new_ones(n) if w is None else w for n, w in parts])


def check_gt_instances(batch_gt_instances: InstanceList,
                       batch_img_metas: List[dict], num_classes: int) -> None:
    """Refuse gts a RoI head cannot train on, naming the image.

    Args:
        batch_gt_instances (InstanceList): B sets of gts.
        batch_img_metas (list[dict]): their metainfo.
        num_classes (int): the box head's classes.

    Raises:
        ValueError: on a label outside [0, num_classes)
            (:func:`~lossmix_mm.models.utils.check_gt_labels`), or a box
            that is not finite or has x2 < x1 or y2 < y1 (mmcv's RoIAlign
            asserts on it when the sampler adds the gts as proposals).
    """
    bad = []
    for gts, meta in zip(batch_gt_instances, batch_img_metas):
        check_gt_labels(gts, num_classes, meta)
        boxes = get_box_tensor(gts.bboxes)
        bad.append(~(
            (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])
            & torch.isfinite(boxes).all(dim=1)))
    if not bad or not bool(torch.cat(bad).any()):
        return
    for gts, meta, flags in zip(batch_gt_instances, batch_img_metas, bad):
        if flags.any():
            k = int(torch.nonzero(flags)[0])
            raise ValueError(
                f'gt box {k} {get_box_tensor(gts.bboxes)[k].tolist()} of '
                f'image {meta.get("img_path", meta.get("img_id"))!r} is not '
                '(x1, y1, x2, y2) with x1 <= x2, y1 <= y2 and finite: '
                'convert or drop it (mmcv\'s RoIAlign fails on it)')
