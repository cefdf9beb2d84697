"""ATSS head whose positive anchors carry their gt's LossMix weight."""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import ATSSHead
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from torch import Tensor

from ..utils import times
from .lossmix_dense_head_mixin import (LossMixDenseHeadMixin, exact_loss_terms,
                                       pick)


@MODELS.register_module()
class LossMixATSSHead(LossMixDenseHeadMixin, ATSSHead):
    """``ATSSHead`` trained with LossMix's per-instance loss weights.

    A positive anchor's label weight is multiplied by its gt's
    ``loss_weights`` (``mix_cls``); its GIoU loss (on top of the centerness
    targets) by the same (``mix_reg``) and by ``reg_weights``; its
    centerness loss by the loss weight (``mix_reg``). The stock
    ``loss_by_feat_single`` has no weight for the last two: this one takes
    each level's multipliers as ``cls_weights`` / ``reg_weights`` /
    ``quality_weights``. Negatives and every normaliser are unchanged.

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their GIoU and centerness losses. Defaults
            to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: ``ATSSHead`` arguments.
    """

    @exact_loss_terms
    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            centernesses: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """``ATSSHead.loss_by_feat`` on :meth:`weighted_targets` (Eq. 14
        term by term when exact)."""
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            [featmap.size()[-2:] for featmap in bbox_preds],
            batch_img_metas,
            device=device)
        (anchor_list, labels_list, label_weights_list, bbox_targets_list,
         weights, avg_factor) = self.weighted_targets(
             anchor_list, valid_flag_list, batch_gt_instances, batch_img_metas,
             batch_gt_instances_ignore)
        avg_factor = reduce_mean(
            torch.tensor(avg_factor, dtype=torch.float, device=device)).item()
        losses_cls, losses_bbox, loss_centerness, bbox_avg_factor = [
            list(each) for each in zip(*[
                self.loss_by_feat_single(*level[:7], avg_factor, *level[7:])
                for level in zip(anchor_list, cls_scores, bbox_preds,
                                 centernesses, labels_list, label_weights_list,
                                 bbox_targets_list, *weights)
            ])
        ]
        bbox_avg_factor = reduce_mean(
            sum(bbox_avg_factor)).clamp_(min=1).item()
        losses_bbox = [loss / bbox_avg_factor for loss in losses_bbox]
        return dict(
            loss_cls=losses_cls,
            loss_bbox=losses_bbox,
            loss_centerness=loss_centerness)

    def weighted_targets(
            self,
            anchor_list: List[List[Tensor]],
            valid_flag_list: List[List[Tensor]],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> tuple:
        """``ATSSHead.get_targets`` with each anchor's multipliers.

        Returns:
            tuple: as ``get_targets``, the bbox weights replaced by the
            multipliers (:class:`SampleWeights` of per-level (B, A_l), or
            None for ones): per level the anchors, labels, label weights,
            bbox targets, then the multipliers and the ``avg_factor`` sum.
        """
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        flat_anchors = [torch.cat(anchors) for anchors in anchor_list]
        flat_flags = [torch.cat(flags) for flags in valid_flag_list]
        ignores = batch_gt_instances_ignore or [None] * len(flat_anchors)
        (anchors, labels, label_weights, bbox_targets, _, _, _,
         results) = multi_apply(self._get_targets_single, flat_anchors,
                                flat_flags,
                                [num_level_anchors] * len(flat_anchors),
                                batch_gt_instances, batch_img_metas, ignores)
        weights = self._level_weights(flat_anchors, flat_flags,
                                      batch_img_metas, batch_gt_instances,
                                      results, num_level_anchors)
        return tuple(
            images_to_levels(each, num_level_anchors)
            for each in (anchors, labels, label_weights, bbox_targets)) + (
                weights, sum(result.avg_factor for result in results))

    def loss_by_feat_single(self,
                            anchors: Tensor,
                            cls_score: Tensor,
                            bbox_pred: Tensor,
                            centerness: Tensor,
                            labels: Tensor,
                            label_weights: Tensor,
                            bbox_targets: Tensor,
                            avg_factor: float,
                            cls_weights: Optional[Tensor] = None,
                            reg_weights: Optional[Tensor] = None,
                            quality_weights: Optional[Tensor] = None) -> tuple:
        """``ATSSHead.loss_by_feat_single`` of one level, each anchor's label
        weight times ``cls_weights`` and each positive's GIoU and centerness
        losses times ``reg_weights`` / ``quality_weights`` ((B, A_l), None
        for ones)."""
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(
            -1, self.cls_out_channels).contiguous()
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        centerness = centerness.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = times(label_weights, cls_weights).reshape(-1)
        loss_cls = self.loss_cls(
            cls_score, labels, label_weights, avg_factor=avg_factor)
        pos_inds = ((labels >= 0) &
                    (labels < self.num_classes)).nonzero().squeeze(1)
        if len(pos_inds) == 0:
            return (loss_cls, bbox_pred.sum() * 0, centerness.sum() * 0,
                    bbox_targets.new_tensor(0.))
        pos_anchors = anchors[pos_inds]
        centerness_targets = self.centerness_target(pos_anchors,
                                                    bbox_targets[pos_inds])
        loss_bbox = self.loss_bbox(
            self.bbox_coder.decode(pos_anchors, bbox_pred[pos_inds]),
            bbox_targets[pos_inds],
            weight=times(centerness_targets, pick(reg_weights, pos_inds)),
            avg_factor=1.0)
        loss_centerness = self.loss_centerness(
            centerness[pos_inds],
            centerness_targets,
            pick(quality_weights, pos_inds),
            avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_centerness, centerness_targets.sum()
