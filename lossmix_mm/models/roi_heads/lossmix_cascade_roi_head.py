"""Cascade RoI head whose positive RoIs carry their gt's LossMix weight at
every stage."""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor

from .lossmix_roi_head_mixin import LossMixRoIHeadMixin


@MODELS.register_module()
class LossMixCascadeRoIHead(LossMixRoIHeadMixin, CascadeRoIHead):
    """``CascadeRoIHead`` trained with LossMix's per-instance loss weights.

    At every stage, a positive RoI's target weights are multiplied as in
    :class:`LossMixRoIHead` by the gt that stage assigned it to;
    ``stage_loss_weights`` and the refinement between stages (it reads the
    labels only) are unchanged. Without weights (or all ones) every loss
    equals ``CascadeRoIHead``'s.

    ``exact=True`` (= ``'two_pass'``, the only exact mode: the boxes refined
    between stages depend on the sample and its labels) runs the whole
    cascade once per label set, each image weighted by its coefficient.

    Args:
        mix_cls (bool): weight the RoI classification losses. Defaults to
            True.
        mix_reg (bool): weight the RoI box-regression losses. Defaults to
            True.
        mix_mask (bool): weight the mask losses. Defaults to True.
        exact (bool | str): False, True or ``'two_pass'``. Defaults to
            False.
        **kwargs: ``CascadeRoIHead`` arguments.
    """
    exact_modes = ('two_pass', )

    def weighted_loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                      batch_gt_instances: InstanceList,
                      batch_gt_instances_ignore: list,
                      batch_img_metas: List[dict]) -> dict:
        """``CascadeRoIHead.loss`` with the gts passed to ``bbox_loss``."""
        losses = dict()
        results_list = rpn_results_list
        for stage in range(self.num_stages):
            self.current_stage = stage
            sampling_results = self.sample(self.bbox_assigner[stage],
                                           self.bbox_sampler[stage], x,
                                           results_list, batch_gt_instances,
                                           batch_gt_instances_ignore)
            bbox_results = self.bbox_loss(stage, x, sampling_results,
                                          batch_gt_instances)
            stage_losses = dict(bbox_results['loss_bbox'])
            if self.with_mask:
                stage_losses.update(
                    self.mask_loss(stage, x, sampling_results,
                                   batch_gt_instances)['loss_mask'])
            for name, value in stage_losses.items():
                losses[f's{stage}.{name}'] = value * \
                    self.stage_loss_weights[stage] if 'loss' in name \
                    else value
            if stage < self.num_stages - 1:
                with torch.no_grad():
                    results_list = self.bbox_head[stage].refine_bboxes(
                        sampling_results, bbox_results, batch_img_metas)
                if results_list is None:  # no proposal left
                    break
        return losses

    def bbox_loss(self,
                  stage: int,
                  x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: Optional[InstanceList] = None) -> dict:
        """``CascadeRoIHead.bbox_loss`` with the targets weighted by the
        gts the RoIs were sampled against (the stock loss without them)."""
        if batch_gt_instances is None:
            return super().bbox_loss(stage, x, sampling_results)
        bbox_head = self.bbox_head[stage]
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(stage, x, rois)
        targets = self.weighted_bbox_targets(bbox_head, sampling_results,
                                             batch_gt_instances,
                                             self.train_cfg[stage])
        bbox_results.update(
            rois=rois,
            bbox_targets=targets,
            loss_bbox=bbox_head.loss(bbox_results['cls_score'],
                                     bbox_results['bbox_pred'], rois,
                                     *targets))
        return bbox_results

    def mask_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: InstanceList) -> dict:
        """``CascadeRoIHead.mask_loss`` with each positive RoI weighted by
        its gt's weight."""
        with self.weighted_mask_loss(self.mask_head[stage], sampling_results,
                                     batch_gt_instances):
            return super().mask_loss(stage, x, sampling_results,
                                     batch_gt_instances)
