"""Exact Eq. 14 for a StandardRoIHead with one sample and one forward."""
from typing import List, Tuple

import torch
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import (loss_by_terms, mix_group_passes, relabel_sampling_result,
                     sampling_gt_instances)


class SinglePassMixin:
    """``exact='single_pass'`` of :class:`LossMixRoIHead`.

    Each image's proposals are assigned and sampled once, by the stock
    assigner and sampler, against the gts of every term it has (a proposal
    the joint assignment ignores but some term's gts make negative is a
    negative candidate, so a sampler that takes every candidate takes every
    term's); the box and mask heads run once on these RoIs; each term is
    the stock loss of its label set on the RoIs its assigner labels (the
    ones it ignores left out), with that loss's normalisers, its images
    weighted by their coefficients; the terms are added by
    :func:`~lossmix_mm.models.utils.loss_by_terms`.
    """

    def single_pass_loss(self, x: Tuple[Tensor],
                         rpn_results_list: InstanceList,
                         batch_gt_instances: InstanceList,
                         batch_gt_instances_ignore: list,
                         batch_img_metas: List[dict]) -> dict:
        """Eq. 14 on one shared sample.

        Returns:
            dict: ``loss_cls``, ``loss_bbox`` (and ``loss_mask``): the sum
            of the terms' stock losses; ``acc`` their mean.
        """
        terms = mix_group_passes(batch_gt_instances, batch_img_metas)
        shared, starts = [], [0]
        for i, results in enumerate(rpn_results_list):
            shared.append(
                self.shared_sample(
                    x, i, results, batch_gt_instances[i],
                    [(t.group, t.gt_instances[t.img_inds.index(i)])
                     for t in terms if i in t.img_inds],
                    batch_gt_instances_ignore[i]))
            starts.append(starts[-1] + len(shared[-1].priors))
        labelled = {
            t.group: [
                relabel_sampling_result(self.bbox_assigner, shared[i], gts,
                                        batch_gt_instances_ignore[i])
                for i, gts in zip(t.img_inds, t.gt_instances)
            ]
            for t in terms
        }
        rois = bbox2roi([res.priors for res in shared])
        bbox_results = self._bbox_forward(x, rois)
        if self.with_mask:
            is_pos = torch.zeros(
                len(rois), dtype=torch.bool, device=rois.device)
            for t in terms:
                is_pos[self._rows(
                    starts, t.img_inds, labelled[t.group],
                    negatives=False)] = True
            mask_preds = self._pos_mask_preds(x, rois, is_pos,
                                              bbox_results['bbox_feats'])
            mask_row = is_pos.long().cumsum(0) - 1

        def term_loss(term):
            results = labelled[term.group]
            rows = self._rows(starts, term.img_inds, results)
            bbox_pred = bbox_results['bbox_pred']
            losses = self.bbox_head.loss(
                bbox_results['cls_score'][rows],
                None if bbox_pred is None else bbox_pred[rows], rois[rows],
                *self.weighted_bbox_targets(self.bbox_head, results,
                                            term.gt_instances, self.train_cfg))
            if self.with_mask:
                pos = self._rows(starts, term.img_inds, results, False)
                with self.weighted_mask_loss(self.mask_head, results,
                                             term.gt_instances):
                    losses.update(
                        self.mask_head.loss_and_target(
                            mask_preds[mask_row[pos]], results,
                            term.gt_instances, self.train_cfg)['loss_mask'])
            return losses

        return loss_by_terms(batch_gt_instances, batch_img_metas, term_loss)

    def shared_sample(self, x: Tuple[Tensor], i: int, results: InstanceData,
                      gt_instances: InstanceData, term_gts: list,
                      gt_instances_ignore) -> SamplingResult:
        """The one sample of image ``i``.

        Args:
            x (tuple[Tensor]): multi-level features of the batch.
            i (int): the image.
            results (InstanceData): its proposals (``bboxes``, renamed
                ``priors`` here as in the stock ``loss``).
            gt_instances (InstanceData): all its gts.
            term_gts (list[tuple[int, InstanceData]]): (group, gts) of each
                term the image has.
            gt_instances_ignore (InstanceData, optional): ignored boxes.

        Returns:
            SamplingResult: the stock sampler's sample against the gts of
            those terms, a proposal ignored by that assignment but negative
            for some term's gts counted a negative candidate.
        """
        results.priors = results.pop('bboxes')
        gts = sampling_gt_instances(gt_instances, [g for g, _ in term_gts])
        assign_result = self.bbox_assigner.assign(results, gts,
                                                  gt_instances_ignore)
        gt_inds = assign_result.gt_inds
        if len(term_gts) > 1 and bool((gt_inds < 0).any()):
            for _, term in term_gts:
                term_inds = self.bbox_assigner.assign(
                    results, term, gt_instances_ignore).gt_inds
                gt_inds[(gt_inds < 0) & (term_inds == 0)] = 0
        return self.bbox_sampler.sample(
            assign_result, results, gts, feats=[lvl[i][None] for lvl in x])

    def _pos_mask_preds(self, x: Tuple[Tensor], rois: Tensor, is_pos: Tensor,
                        bbox_feats: Tensor) -> Tensor:
        """(P, K, h, w) mask predictions of the P RoIs where ``is_pos``."""
        if self.share_roi_extractor:
            return self._mask_forward(
                x, pos_inds=is_pos, bbox_feats=bbox_feats)['mask_preds']
        return self._mask_forward(x, rois[is_pos])['mask_preds']

    @staticmethod
    def _rows(starts: List[int],
              img_inds: List[int],
              results: List[SamplingResult],
              negatives: bool = True) -> Tensor:
        """Rows of the shared RoIs in the stock target order of ``results``
        (an image's positives, then its negatives if asked)."""
        return torch.cat([
            starts[i] + (torch.cat([res.pos_inds, res.neg_inds])
                         if negatives else res.pos_inds)
            for i, res in zip(img_inds, results)
        ])
