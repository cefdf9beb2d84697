"""RTMDet head whose positive priors carry their gt's LossMix weight."""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import RTMDetSepBNHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import distance2bbox
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from torch import Tensor

from ..utils import check_gt_labels, times
from .lossmix_dense_head_mixin import (LossMixDenseHeadMixin, exact_loss_terms,
                                       pick)


@MODELS.register_module()
class LossMixRTMDetSepBNHead(LossMixDenseHeadMixin, RTMDetSepBNHead):
    """``RTMDetSepBNHead`` trained with LossMix's per-instance loss weights.

    A positive prior's label weight (quality focal loss) is multiplied by
    its gt's ``loss_weights`` (``mix_cls``); its GIoU loss (on top of the
    assign metrics) by the same (``mix_reg``) and by ``reg_weights``.
    ``loss_by_feat_single`` is the stock one taking each level's
    multipliers as ``cls_weights`` / ``reg_weights``. The assign metrics,
    and so both normalisers, are the stock ones.

    Args:
        mix_cls (bool): weight the quality focal loss of the positives.
            Defaults to True.
        mix_reg (bool): weight their GIoU loss. Defaults to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: ``RTMDetSepBNHead`` arguments.
    """

    @exact_loss_terms
    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """``RTMDetHead.loss_by_feat``, the targets' weights times each
        prior's multipliers (Eq. 14 term by term when exact)."""
        num_imgs = len(batch_img_metas)
        for gts, meta in zip(batch_gt_instances, batch_img_metas):
            check_gt_labels(gts, self.num_classes, meta)  # the assigner
        anchor_list, valid_flag_list = self.get_anchors(
            [featmap.size()[-2:] for featmap in cls_scores],
            batch_img_metas,
            device=cls_scores[0].device)
        flatten_cls_scores = torch.cat([
            score.permute(0, 2, 3, 1).reshape(
                num_imgs, -1, self.cls_out_channels) for score in cls_scores
        ], 1)
        decoded_bboxes = [
            distance2bbox(
                anchor.reshape(-1, 4),
                pred.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4))
            for anchor, pred in zip(anchor_list[0], bbox_preds)
        ]
        # read before get_targets, which joins the levels in place
        sizes = [len(anchors) for anchors in anchor_list[0]]
        flat_anchors = [torch.cat(anchors) for anchors in anchor_list]
        flat_flags = [torch.cat(flags) for flags in valid_flag_list]
        (_, labels_list, label_weights_list, bbox_targets_list,
         assign_metrics_list, sampling_results) = self.get_targets(
             flatten_cls_scores, torch.cat(decoded_bboxes,
                                           1), anchor_list, valid_flag_list,
             batch_gt_instances, batch_img_metas, batch_gt_instances_ignore)
        weights = self._level_weights(flat_anchors, flat_flags,
                                      batch_img_metas, batch_gt_instances,
                                      sampling_results, sizes)
        losses_cls, losses_bbox, cls_avg_factors, bbox_avg_factors = \
            multi_apply(self.loss_by_feat_single, cls_scores, decoded_bboxes,
                        labels_list, label_weights_list, bbox_targets_list,
                        assign_metrics_list, self.prior_generator.strides,
                        weights.cls, weights.reg)
        cls_avg_factor = reduce_mean(sum(cls_avg_factors)).clamp_(min=1).item()
        bbox_avg_factor = reduce_mean(
            sum(bbox_avg_factors)).clamp_(min=1).item()
        return dict(
            loss_cls=[loss / cls_avg_factor for loss in losses_cls],
            loss_bbox=[loss / bbox_avg_factor for loss in losses_bbox])

    def loss_by_feat_single(self,
                            cls_score: Tensor,
                            bbox_pred: Tensor,
                            labels: Tensor,
                            label_weights: Tensor,
                            bbox_targets: Tensor,
                            assign_metrics: Tensor,
                            stride: List[int],
                            cls_weights: Optional[Tensor] = None,
                            reg_weights: Optional[Tensor] = None) -> tuple:
        """``RTMDetHead.loss_by_feat_single`` of one level, each prior's
        label weight times ``cls_weights`` and each positive's GIoU loss
        times ``reg_weights`` ((B, A_l), None for ones)."""
        assert stride[0] == stride[1], 'h stride is not equal to w stride!'
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(
            -1, self.cls_out_channels).contiguous()
        bbox_pred = bbox_pred.reshape(-1, 4)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        assign_metrics = assign_metrics.reshape(-1)
        label_weights = times(label_weights, cls_weights).reshape(-1)
        loss_cls = self.loss_cls(
            cls_score, (labels, assign_metrics), label_weights, avg_factor=1.0)
        pos_inds = ((labels >= 0) &
                    (labels < self.num_classes)).nonzero().squeeze(1)
        if len(pos_inds) == 0:
            return (loss_cls, bbox_pred.sum() * 0, assign_metrics.sum(),
                    bbox_targets.new_tensor(0.))
        pos_bbox_weight = assign_metrics[pos_inds]
        loss_bbox = self.loss_bbox(
            bbox_pred[pos_inds],
            bbox_targets[pos_inds],
            weight=times(pos_bbox_weight, pick(reg_weights, pos_inds)),
            avg_factor=1.0)
        return loss_cls, loss_bbox, assign_metrics.sum(), pos_bbox_weight.sum()
