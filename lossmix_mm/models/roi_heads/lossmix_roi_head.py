"""Standard RoI head whose positive RoIs carry their gt's LossMix weight."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from ..utils import (GroupPass, get_gt_reg_weights, mix_group_passes,
                     relabel_sampling_result, sampling_gt_instances,
                     sum_pass_losses)
from .lossmix_roi_head_mixin import LossMixRoIHeadMixin


@MODELS.register_module()
class LossMixRoIHead(LossMixRoIHeadMixin, StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    The classification and regression target weights of a positive RoI are
    multiplied by ``gt_instances.loss_weights`` of the gt it is assigned to;
    negatives and the bbox head's normalisers are untouched (weights in
    (0, 1] keep mmdet's count of ``label_weights > 0``). Independently of
    ``mix_cls`` / ``mix_reg``, the regression weights of a positive RoI are
    multiplied by ``gt_instances.reg_weights`` of its gt (0 allowed:
    ``BBoxHead.loss`` divides the box loss by the number of sampled RoIs,
    not by the weights). With a mask head (Mask R-CNN) and ``mix_mask``, the
    mask loss of a positive RoI is multiplied by its gt's ``loss_weights``
    (not by ``reg_weights``), the normaliser (all positive RoIs x pixels)
    unchanged; the stock mask loss has no weight argument, so it is called
    once per distinct weight (see
    :func:`~lossmix_mm.models.utils.roi_weighted_mean`, exact by
    linearity). Without ``loss_weights`` and ``reg_weights`` (or with
    all-ones weights) every loss equals ``StandardRoIHead``'s.

    Exact Eq. 14, L = c_i * L(y_i) + c_j * L(y_j) per image (c_i, c_j =
    lam, 1 - lam for LossMix; by the metainfo ``mix_mode`` and
    ``mix_lambda``, see :func:`~lossmix_mm.models.utils.group_coefficients`),
    y_i the own image's gts (``mix_group`` 0), y_j the partner's (1):

    - ``exact=True`` / ``'single_pass'`` (:meth:`_loss_single_pass`): the
      proposals of an image are assigned and sampled ONCE, by the stock
      assigner and sampler, against the gts of both terms (so positives of
      both images are sampled, and both images' gts are added as proposals);
      the box (and mask) head runs once on these RoIs; the assigner then
      labels the sampled RoIs against y_i and against y_j, and each term is
      the stock loss of its label set on those RoIs, with the stock
      normalisers of that loss (classification: RoIs not ignored by the
      term's assignment; regression: the same count; mask: the term's
      positives). Over the default weighting it costs an assignment of the
      sampled RoIs and a target build per term, about 1 % of a toy Faster
      R-CNN iteration.
    - ``exact='two_pass'``: the definition of the earlier versions: the
      stock loss is computed twice, each pass assigning and sampling the
      proposals against its own label set and running the RoI head on its
      own sample. Costs a second RoI-head forward and backward (RoIAlign
      forward and backward are a third of a toy iteration).

    In both, each term's loss is summed over the images with a coefficient
    > 0 for it, normalised over them as stock mmdet normalises a batch, and
    scaled by their share of the batch (see
    :func:`~lossmix_mm.models.utils.mix_group_passes`: exact when every
    image contributes the same number of RoIs). When both sample the same
    RoIs (a sampler that takes every candidate, no gts added as proposals)
    the two modes give the same loss.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        mix_mask (bool): weight the mask loss. Defaults to True.
        exact (bool | str): False, True (= ``'single_pass'``),
            ``'single_pass'`` or ``'two_pass'``. Defaults to False.
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head loss with positive RoIs weighted by their gt's weights.

        Returns the same dict as ``StandardRoIHead.bbox_loss``.
        """
        targets = self._weighted_bbox_targets(self.bbox_head,
                                              sampling_results,
                                              self.train_cfg)
        if targets is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        loss_bbox = self.bbox_head.loss(bbox_results['cls_score'],
                                        bbox_results['bbox_pred'], rois,
                                        *targets)
        bbox_results.update(loss_bbox=loss_bbox)
        return bbox_results

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """``StandardRoIHead.mask_loss`` with each positive RoI's mask loss
        weighted by its gt's weight (and the image's coefficient in an
        exact pass)."""
        with self._weighted_mask_loss(self.mask_head, sampling_results):
            return super().mask_loss(x, sampling_results, bbox_feats,
                                     batch_gt_instances)

    def _loss_single_pass(self, x: Tuple[Tensor],
                          rpn_results_list: InstanceList,
                          batch_data_samples: SampleList) -> dict:
        """Eq. 14 on one shared sample and one RoI-head forward.

        Args:
            x (tuple[Tensor]): multi-level features, (B, C, H_l, W_l) each.
            rpn_results_list (InstanceList): B sets of proposals
                (``bboxes``); mutated as by the stock ``loss``.
            batch_data_samples (SampleList): B samples with gts and
                metainfo (``mix_lambda``, ``mix_mode``).

        Returns:
            dict: ``loss_cls``, ``loss_bbox`` (and ``loss_mask``), each the
            sum over the terms of the term's stock loss times its share of
            the batch; ``acc`` the mean of the terms' accuracies.
        """
        batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = \
            unpack_gt_instances(batch_data_samples)
        terms = mix_group_passes(batch_gt_instances, batch_img_metas)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            gts = sampling_gt_instances(
                batch_gt_instances[i],
                [term.group for term in terms if i in term.img_inds])
            assign_result = self.bbox_assigner.assign(
                rpn_results, gts, batch_gt_instances_ignore[i])
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result, rpn_results, gts,
                    feats=[lvl_feat[i][None] for lvl_feat in x]))
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        starts = [0]
        for res in sampling_results[:-1]:
            starts.append(starts[-1] + len(res.priors))
        term_results = [[
            relabel_sampling_result(self.bbox_assigner, sampling_results[i],
                                    gts, batch_gt_instances_ignore[i])
            for i, gts in zip(term.img_inds, term.gt_instances)
        ] for term in terms]
        mask_preds, mask_slot = None, None
        if self.with_mask:
            mask_preds, mask_slot = self._shared_mask_forward(
                x, rois, bbox_results['bbox_feats'], terms, term_results,
                starts)
        term_losses = []
        for term, results in zip(terms, term_results):
            self._sample_scales = [(None, get_gt_reg_weights(gts), coeff)
                                   for gts, coeff in zip(
                                       term.gt_instances, term.coeffs)]
            try:
                term_losses.append(
                    self._term_loss(term, results, starts, rois,
                                    bbox_results, mask_preds, mask_slot))
            finally:
                self._sample_scales = None
        return sum_pass_losses(term_losses,
                               [term.loss_scale for term in terms])

    def _shared_mask_forward(
            self, x: Tuple[Tensor], rois: Tensor, bbox_feats: Tensor,
            terms: List[GroupPass], term_results: List[List[SamplingResult]],
            starts: List[int]) -> Tuple[Tensor, Tensor]:
        """The mask head, once, on every RoI positive in some term.

        Returns:
            tuple[Tensor, Tensor]: the (P, K, h, w) mask predictions of the
            P RoIs positive in at least one term (ascending RoI order), and
            (R, ) long, the row of each of the R RoIs in them (-1 if none).
        """
        is_pos = torch.zeros(len(rois), dtype=torch.bool, device=rois.device)
        for term, results in zip(terms, term_results):
            for i, res in zip(term.img_inds, results):
                is_pos[starts[i] + res.pos_inds] = True
        if self.share_roi_extractor:
            mask_results = self._mask_forward(
                x, pos_inds=is_pos, bbox_feats=bbox_feats)
        else:
            mask_results = self._mask_forward(x, rois[is_pos])
        slot = torch.full((len(rois), ), -1, dtype=torch.long,
                          device=rois.device)
        slot[is_pos] = torch.arange(
            int(is_pos.sum()), device=rois.device)
        return mask_results['mask_preds'], slot

    def _term_loss(self, term: GroupPass, results: List[SamplingResult],
                   starts: List[int], rois: Tensor, bbox_results: dict,
                   mask_preds: Optional[Tensor],
                   mask_slot: Optional[Tensor]) -> dict:
        """The stock losses of one term on the shared RoIs, its images
        weighted by their coefficients (``self._sample_scales``).

        Args:
            term (GroupPass): the term's images, gts and coefficients.
            results (list[SamplingResult]): the shared RoIs of those images
                labelled against the term's gts
                (:func:`relabel_sampling_result`).
            starts (list[int]): first row of each image's RoIs in ``rois``.
            rois (Tensor): (R, 5) the RoIs of the batch.
            bbox_results (dict): the box head's outputs on ``rois``.
            mask_preds (Tensor, optional): see :meth:`_shared_mask_forward`.
            mask_slot (Tensor, optional): see :meth:`_shared_mask_forward`.

        Returns:
            dict: the term's ``loss_cls``, ``acc``, ``loss_bbox`` (and
            ``loss_mask``).
        """
        # the stock targets list an image's positives, then its negatives
        order = torch.cat([
            starts[i] + torch.cat([res.pos_inds, res.neg_inds])
            for i, res in zip(term.img_inds, results)
        ])
        targets = self._weighted_bbox_targets(self.bbox_head, results,
                                              self.train_cfg)
        if targets is None:
            targets = self.bbox_head.get_targets(results, self.train_cfg)
        bbox_pred = bbox_results['bbox_pred']
        losses = self.bbox_head.loss(
            bbox_results['cls_score'][order],
            None if bbox_pred is None else bbox_pred[order], rois[order],
            *targets)
        if mask_preds is not None:
            pos = torch.cat([
                starts[i] + res.pos_inds
                for i, res in zip(term.img_inds, results)
            ])
            with self._weighted_mask_loss(self.mask_head, results):
                mask_loss = self.mask_head.loss_and_target(
                    mask_preds=mask_preds[mask_slot[pos]],
                    sampling_results=results,
                    batch_gt_instances=term.gt_instances,
                    rcnn_train_cfg=self.train_cfg)
            losses.update(mask_loss['loss_mask'])
        return losses
