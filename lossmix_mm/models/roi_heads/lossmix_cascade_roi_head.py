"""Cascade RoI head whose positive RoIs carry their gt's LossMix weight at
every stage."""
from typing import List, Tuple

from torch import Tensor

from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from .lossmix_roi_head_mixin import LossMixRoIHeadMixin


@MODELS.register_module()
class LossMixCascadeRoIHead(LossMixRoIHeadMixin, CascadeRoIHead):
    """``CascadeRoIHead`` trained with LossMix's per-instance loss weights.

    At every stage, a positive RoI's classification and regression target
    weights are multiplied by ``gt_instances.loss_weights`` of the gt that
    stage assigned it to (``mix_cls`` / ``mix_reg``), its regression weights
    also by the gt's ``reg_weights``, and, with mask heads and ``mix_mask``,
    its mask loss by the gt's ``loss_weights``; negatives, normalisers and
    ``stage_loss_weights`` are unchanged, and so is the refinement of the
    boxes between stages (it reads only the labels). Without weights (or
    all ones) every loss equals ``CascadeRoIHead``'s.

    With ``exact=True`` (the same as ``exact='two_pass'``, the only exact
    mode of this head), the whole cascade runs once against the own image's
    gts and once against the partner's (proposals are refined against each
    pass's gts, as a stock Cascade R-CNN trained on that label set would),
    each image weighted by its coefficient, each pass by its share of the
    batch; see :class:`LossMixRoIHead`. It costs a second run of the RoI
    stages, not of the backbone. There is no ``'single_pass'`` mode yet:
    the boxes refined between stages depend on the sample and its labels
    (``refine_bboxes`` reads the sampled labels and drops the gts the
    sampler added), so a shared sample would change what the later stages
    see, and no two-pass run could check it.

    Args:
        mix_cls (bool): weight the RoI classification losses. Defaults to
            True.
        mix_reg (bool): weight the RoI box-regression losses. Defaults to
            True.
        mix_mask (bool): weight the mask losses. Defaults to True.
        exact (bool | str): False, True or ``'two_pass'`` (the same): Eq.
            14 with one cascade pass per source image. Defaults to False.
        **kwargs: ``CascadeRoIHead`` arguments.
    """
    exact_modes = ('two_pass', )

    def bbox_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """The stage's box loss with positive RoIs weighted by their gt's
        weights. Returns the same dict as ``CascadeRoIHead.bbox_loss``
        (``bbox_targets`` holds the weighted target weights)."""
        bbox_head = self.bbox_head[stage]
        targets = self._weighted_bbox_targets(bbox_head, sampling_results,
                                              self.train_cfg[stage])
        if targets is None:
            return super().bbox_loss(stage, x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(stage, x, rois)
        bbox_results.update(rois=rois)
        loss_bbox = bbox_head.loss(bbox_results['cls_score'],
                                   bbox_results['bbox_pred'], rois, *targets)
        bbox_results.update(loss_bbox=loss_bbox, bbox_targets=targets)
        return bbox_results

    def mask_loss(self, stage: int, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult],
                  batch_gt_instances: InstanceList) -> dict:
        """The stage's mask loss with each positive RoI weighted by its
        gt's weight."""
        with self._weighted_mask_loss(self.mask_head[stage],
                                      sampling_results):
            return super().mask_loss(stage, x, sampling_results,
                                     batch_gt_instances)
