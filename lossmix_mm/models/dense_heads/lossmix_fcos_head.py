"""FCOS head whose positive points carry their gt's LossMix weight."""
from typing import Dict, List

import torch
from mmdet.models.dense_heads import FCOSHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from torch import Tensor

from ..utils import SampleWeights, has_sample_weights, times
from .lossmix_dense_head_mixin import (LossMixDenseHeadMixin, exact_loss_terms,
                                       pick, weights_to_levels)


@MODELS.register_module()
class LossMixFCOSHead(LossMixDenseHeadMixin, FCOSHead):
    """``FCOSHead`` trained with LossMix's per-instance loss weights.

    FCOS has no target weights: :meth:`loss_by_feat` is the stock one with
    each point's multipliers passed as ``weight=`` to the focal loss
    (``mix_cls``), the IoU loss (on top of the centerness targets; also
    ``reg_weights``) and the centerness loss (``mix_reg``). The normalisers
    are the stock ones. A positive's gt is read off FCOS's own targets
    (:meth:`point_assigned_gt_inds`).

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their IoU and centerness losses. Defaults to
            True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: ``FCOSHead`` arguments.
    """

    @exact_loss_terms
    def loss_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        centernesses: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """``FCOSHead.loss_by_feat``, each loss given each point's
        multipliers as ``weight=`` (Eq. 14 term by term when exact)."""
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        labels, bbox_targets = self.get_targets(points, batch_gt_instances)
        weights = self._point_weights(points, labels, bbox_targets,
                                      batch_gt_instances, batch_img_metas)
        num_imgs = cls_scores[0].size(0)
        flatten_cls_scores = _flatten(cls_scores, self.cls_out_channels)
        flatten_bbox_preds = _flatten(bbox_preds, 4)
        flatten_centerness = _flatten(centernesses, 1).reshape(-1)
        flatten_labels = torch.cat(labels)
        flatten_bbox_targets = torch.cat(bbox_targets)
        flatten_points = torch.cat(
            [each.repeat(num_imgs, 1) for each in points])
        losses = dict()
        pos_inds = ((flatten_labels >= 0) &
                    (flatten_labels < self.num_classes)).nonzero().reshape(-1)
        num_pos = max(
            reduce_mean(
                flatten_labels.new_tensor(len(pos_inds), dtype=torch.float)),
            1.0)
        losses['loss_cls'] = self.loss_cls(
            flatten_cls_scores,
            flatten_labels,
            weights.cls,
            avg_factor=num_pos)
        if getattr(self.loss_cls, 'custom_accuracy', False):
            losses.update(
                self.loss_cls.get_accuracy(flatten_cls_scores, flatten_labels))
        pos_bbox_preds = flatten_bbox_preds[pos_inds]
        pos_centerness = flatten_centerness[pos_inds]
        pos_bbox_targets = flatten_bbox_targets[pos_inds]
        pos_centerness_targets = self.centerness_target(pos_bbox_targets)
        centerness_denorm = max(
            reduce_mean(pos_centerness_targets.sum().detach()), 1e-6)
        if len(pos_inds) > 0:
            pos_points = flatten_points[pos_inds]
            losses['loss_bbox'] = self.loss_bbox(
                self.bbox_coder.decode(pos_points, pos_bbox_preds),
                self.bbox_coder.decode(pos_points, pos_bbox_targets),
                weight=times(pos_centerness_targets,
                             pick(weights.reg, pos_inds)),
                avg_factor=centerness_denorm)
            losses['loss_centerness'] = self.loss_centerness(
                pos_centerness,
                pos_centerness_targets,
                pick(weights.quality, pos_inds),
                avg_factor=num_pos)
        else:
            losses['loss_bbox'] = pos_bbox_preds.sum()
            losses['loss_centerness'] = pos_centerness.sum()
        return losses

    def _point_weights(self, points: List[Tensor], labels: List[Tensor],
                       bbox_targets: List[Tensor],
                       batch_gt_instances: InstanceList,
                       batch_img_metas: List[dict]) -> SampleWeights:
        """Each point's multipliers in ``loss_by_feat``'s flattened order
        (levels, then images, then positions); None where all are 1.

        Args:
            points (list[Tensor]): per level (P_l, 2).
            labels (list[Tensor]): per level (B * P_l, ), ``get_targets``'.
            bbox_targets (list[Tensor]): per level (B * P_l, 4), the same.
            batch_gt_instances (InstanceList): B sets of gts.
            batch_img_metas (list[dict]): B image metas.
        """
        num_imgs = len(batch_gt_instances)
        gt_inds = [None] * num_imgs
        if any(has_sample_weights(gt) for gt in batch_gt_instances):
            per_level = [
                self.point_assigned_gt_inds(*args, batch_gt_instances)
                for args in zip(points, labels, bbox_targets, self.strides)
            ]
            gt_inds = [
                torch.cat([level[i] for level in per_level])
                for i in range(num_imgs)
            ]
        sizes = [len(each) for each in points]
        per_field = multi_apply(self._sample_weights, gt_inds,
                                batch_gt_instances, batch_img_metas)
        return SampleWeights(*[  # per level (B, P_l), flattened in turn
            None if all(w is None for w in field) else torch.cat([
                level.reshape(-1) for level in weights_to_levels(field, sizes)
            ]) for field in per_field
        ])

    def point_assigned_gt_inds(
            self, points: Tensor, labels: Tensor, bbox_targets: Tensor,
            stride: int, batch_gt_instances: InstanceList) -> List[Tensor]:
        """The gt of each point of one level, read off FCOS's targets.

        A positive point's target is its distances to the sides of its gt;
        the gt is the smallest (FCOS's rule; the first of equal ones) whose
        distances, computed as ``FCOSHead._get_targets_single`` computes
        them, equal the target exactly.

        Args:
            points (Tensor): (P_l, 2) points of the level.
            labels (Tensor): (B * P_l, ) the level's labels.
            bbox_targets (Tensor): (B * P_l, 4) its targets.
            stride (int): the level's stride (``norm_on_bbox`` divides).
            batch_gt_instances (InstanceList): B sets of gts.

        Returns:
            list[Tensor]: per image (P_l, ) long, the gt index, -1 for
            background.
        """
        num_imgs = len(batch_gt_instances)
        labels = labels.view(num_imgs, -1)
        bbox_targets = bbox_targets.view(num_imgs, -1, 4)
        gt_inds = []
        for img, gts in enumerate(batch_gt_instances):
            pos = labels[img] < self.num_classes
            inds = labels.new_full(labels[img].shape, -1)
            if pos.any():
                boxes = get_box_tensor(gts.bboxes)[None]
                xs, ys = points[pos, 0, None], points[pos, 1, None]
                dist = torch.stack((xs - boxes[..., 0], ys - boxes[..., 1],
                                    boxes[..., 2] - xs, boxes[..., 3] - ys),
                                   -1)
                if self.norm_on_bbox:
                    dist = dist / stride
                same = (dist == bbox_targets[img][pos][:, None]).all(-1)
                areas = (boxes[..., 2] - boxes[..., 0]) * (
                    boxes[..., 3] - boxes[..., 1])
                inds[pos] = areas.expand_as(same).masked_fill(
                    ~same, float('inf')).argmin(1)
            gt_inds.append(inds)
        return gt_inds


def _flatten(outs: List[Tensor], channels: int) -> Tensor:
    """Per level (B, channels, H, W) -> (S, channels), FCOS's order."""
    return torch.cat(
        [out.permute(0, 2, 3, 1).reshape(-1, channels) for out in outs])
