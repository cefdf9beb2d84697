"""Standard RoI head whose positive RoIs carry their gt's LossMix weight."""
from typing import List, Optional, Tuple

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor

from .lossmix_roi_head_mixin import LossMixRoIHeadMixin
from .single_pass import SinglePassMixin


@MODELS.register_module()
class LossMixRoIHead(SinglePassMixin, LossMixRoIHeadMixin, StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    A positive RoI's classification and regression target weights are
    multiplied by ``gt_instances.loss_weights`` of its gt (``mix_cls``,
    ``mix_reg``), its regression weights also by the gt's ``reg_weights``;
    with a mask head and ``mix_mask``, its mask loss by the gt's
    ``loss_weights``. Negatives and normalisers are unchanged; without the
    fields (or all ones) every loss equals ``StandardRoIHead``'s.

    ``exact`` (Eq. 14, lam * L(y_i) + (1 - lam) * L(y_j) per image):
    ``True`` / ``'single_pass'`` samples once and scores the RoIs against
    both label sets (:class:`SinglePassMixin`); ``'two_pass'`` runs the
    stock loss once per label set. Both equal the literal form when the
    sampler takes every candidate.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        mix_mask (bool): weight the mask loss. Defaults to True.
        exact (bool | str): False, True (= ``'single_pass'``),
            ``'single_pass'`` or ``'two_pass'``. Defaults to False.
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def weighted_loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
                      batch_gt_instances: InstanceList,
                      batch_gt_instances_ignore: list,
                      batch_img_metas: List[dict]) -> dict:
        """``StandardRoIHead.loss`` with the gts passed to ``bbox_loss``."""
        sampling_results = self.sample(self.bbox_assigner, self.bbox_sampler,
                                       x, rpn_results_list, batch_gt_instances,
                                       batch_gt_instances_ignore)
        losses = dict()
        if self.with_bbox:
            bbox_results = self.bbox_loss(x, sampling_results,
                                          batch_gt_instances)
            losses.update(bbox_results['loss_bbox'])
        if self.with_mask:
            mask_results = self.mask_loss(x, sampling_results,
                                          bbox_results['bbox_feats'],
                                          batch_gt_instances)
            losses.update(mask_results['loss_mask'])
        return losses

    def bbox_loss(self,
                  x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: Optional[InstanceList] = None) -> dict:
        """``StandardRoIHead.bbox_loss`` with the targets weighted by the
        gts the RoIs were sampled against (the stock loss without them)."""
        if batch_gt_instances is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        targets = self.weighted_bbox_targets(self.bbox_head, sampling_results,
                                             batch_gt_instances,
                                             self.train_cfg)
        bbox_results.update(
            loss_bbox=self.bbox_head.loss(bbox_results['cls_score'],
                                          bbox_results['bbox_pred'], rois, *
                                          targets))
        return bbox_results

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """``StandardRoIHead.mask_loss`` with each positive RoI weighted by
        its gt's weight."""
        with self.weighted_mask_loss(self.mask_head, sampling_results,
                                     batch_gt_instances):
            return super().mask_loss(x, sampling_results, bbox_feats,
                                     batch_gt_instances)
