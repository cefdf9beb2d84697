"""Standard RoI head whose positive RoIs carry their gt's LossMix weight."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from ..utils import (get_gt_loss_weights, sampled_loss_weights,
                     scale_target_weights)


@MODELS.register_module()
class LossMixRoIHead(StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    The classification and regression target weights of a positive RoI are
    multiplied by ``gt_instances.loss_weights`` of the gt it is assigned to;
    negatives and the bbox head's normalisers are untouched (weights in
    (0, 1] keep mmdet's count of ``label_weights > 0``). Without
    ``loss_weights`` (or with all-ones weights) every loss equals
    ``StandardRoIHead``'s. Mask losses, if any, are not weighted.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        # gt weights of the batch being trained on, set by ``loss`` only for
        # the duration of the call (``bbox_loss`` receives no gts).
        self._batch_gt_weights: Optional[List[Optional[Tensor]]] = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """``StandardRoIHead.loss`` with the batch's gt weights in reach."""
        self._batch_gt_weights = [
            get_gt_loss_weights(sample.gt_instances)
            for sample in batch_data_samples
        ]
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._batch_gt_weights = None

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head loss with positive RoIs weighted by their gt's weight.

        Returns the same dict as ``StandardRoIHead.bbox_loss``.
        """
        gt_weights = self._batch_gt_weights
        if gt_weights is None or all(w is None for w in gt_weights) or not (
                self.mix_cls or self.mix_reg):
            return super().bbox_loss(x, sampling_results)

        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        labels, label_weights, bbox_targets, bbox_weights = \
            self.bbox_head.get_targets(sampling_results, self.train_cfg)
        roi_weights = torch.cat([
            sampled_loss_weights(res, w)
            for res, w in zip(sampling_results, gt_weights)
        ])
        label_weights, bbox_weights = scale_target_weights(
            label_weights, bbox_weights, roi_weights, self.mix_cls,
            self.mix_reg)
        loss_bbox = self.bbox_head.loss(bbox_results['cls_score'],
                                        bbox_results['bbox_pred'], rois,
                                        labels, label_weights, bbox_targets,
                                        bbox_weights)
        bbox_results.update(loss_bbox=loss_bbox)
        return bbox_results
