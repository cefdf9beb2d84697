"""YOLOX head whose positive priors carry their gt's LossMix weight."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import YOLOXHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import SampleWeights, check_gt_labels
from .lossmix_dense_head_mixin import (LossMixDenseHeadMixin, exact_loss_terms,
                                       pick)


@MODELS.register_module()
class LossMixYOLOXHead(LossMixDenseHeadMixin, YOLOXHead):
    """``YOLOXHead`` trained with LossMix's per-instance loss weights.

    YOLOX has no target weights: :meth:`loss_by_feat` is the stock one with
    each prior's multipliers passed as ``weight=`` to the stock losses. A
    positive prior (SimOTA) takes its gt's ``loss_weights`` on its
    classification loss (``mix_cls``) and on its IoU loss and, with
    ``use_l1``, its L1 loss (``mix_reg``, times ``reg_weights``).

    Objectness takes the ``quality`` multiplier (the loss weight, with
    ``mix_reg``, not times ``reg_weights``), as FCOS's and ATSS's
    centerness does: it is YOLOX's score factor (multiplied into the class
    score at test time), and a positive's objectness target 1 exists only
    in its gt's label set, so Eq. 14 weighs it by that gt's coefficient;
    ``reg_weights`` says the box's geometry is not to be learnt, not that
    there is no object, so it leaves objectness alone. Every other prior's
    objectness term is background in both label sets and keeps 1. The
    normaliser (``num_total_samples``) is the stock one: absent or all-ones
    weights give the stock loss.

    Args:
        mix_cls (bool): weight the classification loss of the positives.
            Defaults to True.
        mix_reg (bool): weight their IoU, L1 and objectness losses.
            Defaults to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: ``YOLOXHead`` arguments.
    """

    @exact_loss_terms
    def loss_by_feat(
            self,
            cls_scores: Sequence[Tensor],
            bbox_preds: Sequence[Tensor],
            objectnesses: Sequence[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """``YOLOXHead.loss_by_feat``, each loss given each prior's
        multipliers as ``weight=`` (Eq. 14 term by term when exact)."""
        num_imgs = len(batch_img_metas)
        if batch_gt_instances_ignore is None:
            batch_gt_instances_ignore = [None] * num_imgs
        mlvl_priors = self.prior_generator.grid_priors(
            [cls_score.shape[2:] for cls_score in cls_scores],
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device,
            with_stride=True)
        flatten_cls_preds = _flatten(cls_scores, num_imgs)
        flatten_bbox_preds = _flatten(bbox_preds, num_imgs)
        flatten_objectness = _flatten(objectnesses,
                                      num_imgs).reshape(num_imgs, -1)
        flatten_priors = torch.cat(mlvl_priors)
        flatten_bboxes = self._bbox_decode(flatten_priors, flatten_bbox_preds)
        (pos_masks, cls_targets, obj_targets, bbox_targets, l1_targets,
         num_fg_imgs, weights) = multi_apply(
             self._get_targets_single,
             flatten_priors.unsqueeze(0).repeat(num_imgs, 1, 1),
             flatten_cls_preds.detach(), flatten_bboxes.detach(),
             flatten_objectness.detach(), batch_gt_instances, batch_img_metas,
             batch_gt_instances_ignore)
        num_pos = torch.tensor(
            sum(num_fg_imgs),
            dtype=torch.float,
            device=flatten_cls_preds.device)
        targets = (torch.cat(pos_masks, 0), torch.cat(cls_targets, 0),
                   torch.cat(obj_targets, 0), torch.cat(bbox_targets, 0),
                   torch.cat(l1_targets, 0) if self.use_l1 else None)
        return self._weighted_losses((flatten_cls_preds, flatten_bboxes,
                                      flatten_objectness, flatten_bbox_preds),
                                     targets, _join_images(weights), num_pos)

    def _weighted_losses(self, preds: Tuple[Tensor, ...],
                         targets: Tuple[Optional[Tensor], ...],
                         weights: SampleWeights, num_pos: Tensor) -> dict:
        """The stock YOLOX losses, each given its multipliers.

        Args:
            preds (tuple[Tensor]): the batch's (B, S, C) class logits, (B, S,
                4) decoded boxes, (B, S) objectness logits and (B, S, 4) raw
                box predictions.
            targets (tuple[Tensor]): (B * S, ) bool positive mask, (P, C)
                class, (B * S, 1) objectness, (P, 4) box and (P, 4) L1
                targets (None without ``use_l1``).
            weights (SampleWeights): (B * S, ) multipliers or None.
            num_pos (Tensor): the number of positives P, a float.

        Returns:
            dict: ``loss_cls``, ``loss_bbox``, ``loss_obj`` and, with
            ``use_l1``, ``loss_l1``.
        """
        cls_preds, bboxes, objectness, bbox_preds = preds
        pos_masks, cls_targets, obj_targets, bbox_targets, l1_targets = targets
        num_total_samples = max(reduce_mean(num_pos), 1.0)
        cls_weights = _column(pick(weights.cls, pos_masks))
        reg_weights = pick(weights.reg, pos_masks)
        obj_weights = _column(weights.quality)
        loss_obj = self.loss_obj(
            objectness.view(-1, 1), obj_targets,
            obj_weights) / num_total_samples
        if num_pos > 0:
            loss_cls = self.loss_cls(
                cls_preds.view(-1, self.num_classes)[pos_masks], cls_targets,
                cls_weights) / num_total_samples
            loss_bbox = self.loss_bbox(
                bboxes.view(-1, 4)[pos_masks], bbox_targets,
                reg_weights) / num_total_samples
        else:  # the branches stay in the graph (as the stock head)
            loss_cls = cls_preds.sum() * 0
            loss_bbox = bboxes.sum() * 0
        losses = dict(
            loss_cls=loss_cls, loss_bbox=loss_bbox, loss_obj=loss_obj)
        if self.use_l1 and num_pos > 0:
            losses['loss_l1'] = self.loss_l1(
                bbox_preds.view(-1, 4)[pos_masks], l1_targets,
                _column(reg_weights)) / num_total_samples
        elif self.use_l1:
            losses['loss_l1'] = bbox_preds.sum() * 0
        return losses

    @torch.no_grad()
    def _assign(self, priors: Tensor, cls_preds: Tensor,
                decoded_bboxes: Tensor, objectness: Tensor,
                gt_instances: InstanceData,
                gt_instances_ignore: Optional[InstanceData]) -> tuple:
        """The stock head's SimOTA assignment and sampling of one image
        (centre priors with a 0.5 offset, scores sqrt(cls * obj)).

        Returns:
            tuple: the ``AssignResult`` and the ``SamplingResult``.
        """
        offset_priors = torch.cat(
            [priors[:, :2] + priors[:, 2:] * 0.5, priors[:, 2:]], dim=-1)
        scores = cls_preds.sigmoid() * objectness.unsqueeze(1).sigmoid()
        pred_instances = InstanceData(
            bboxes=decoded_bboxes, scores=scores.sqrt_(), priors=offset_priors)
        assign_result = self.assigner.assign(
            pred_instances=pred_instances,
            gt_instances=gt_instances,
            gt_instances_ignore=gt_instances_ignore)
        return assign_result, self.sampler.sample(assign_result,
                                                  pred_instances, gt_instances)

    def _get_targets_single(
            self,
            priors: Tensor,
            cls_preds: Tensor,
            decoded_bboxes: Tensor,
            objectness: Tensor,
            gt_instances: InstanceData,
            img_meta: dict,
            gt_instances_ignore: Optional[InstanceData] = None) -> tuple:
        """``YOLOXHead._get_targets_single`` and each prior's multipliers.

        Args:
            priors (Tensor): (S, 4) priors, [cx, cy, stride_w, stride_h].
            cls_preds (Tensor): (S, C) class logits of the image.
            decoded_bboxes (Tensor): (S, 4) decoded boxes, xyxy.
            objectness (Tensor): (S, ) objectness logits.
            gt_instances (InstanceData): the gts, optional LossMix fields.
            img_meta (dict): the image's metainfo.
            gt_instances_ignore (InstanceData, optional): ignored gts.

        Returns:
            tuple: the stock six (foreground mask, class, objectness, box
            and L1 targets, number of positives), then a
            :class:`SampleWeights` of (S, ) multipliers (None for ones).
        """
        check_gt_labels(gt_instances, self.num_classes, img_meta)
        gt_inds = priors.new_full((priors.size(0), ), -1, dtype=torch.long)
        if len(gt_instances) == 0:  # the stock head assigns nothing
            return super()._get_targets_single(
                priors, cls_preds, decoded_bboxes, objectness, gt_instances,
                img_meta, gt_instances_ignore) + (self._sample_weights(
                    gt_inds, gt_instances, img_meta), )
        assign_result, sampling_result = self._assign(priors, cls_preds,
                                                      decoded_bboxes,
                                                      objectness, gt_instances,
                                                      gt_instances_ignore)
        pos_inds = sampling_result.pos_inds
        gt_inds[pos_inds] = sampling_result.pos_assigned_gt_inds.long()
        cls_target = F.one_hot(
            sampling_result.pos_gt_labels,
            self.num_classes) * assign_result.max_overlaps[pos_inds, None]
        obj_target = torch.zeros_like(objectness).unsqueeze(-1)
        obj_target[pos_inds] = 1
        bbox_target = sampling_result.pos_gt_bboxes
        l1_target = cls_preds.new_zeros((pos_inds.size(0), 4))
        if self.use_l1:
            l1_target = self._get_l1_target(l1_target, bbox_target,
                                            priors[pos_inds])
        foreground_mask = torch.zeros_like(objectness).to(torch.bool)
        foreground_mask[pos_inds] = 1
        return (foreground_mask, cls_target, obj_target, bbox_target,
                l1_target, pos_inds.size(0),
                self._sample_weights(gt_inds, gt_instances, img_meta))


def _flatten(outs: Sequence[Tensor], num_imgs: int) -> Tensor:
    """Per level (B, D, H, W) -> (B, S, D), levels joined (YOLOX's order)."""
    return torch.cat([
        out.permute(0, 2, 3, 1).reshape(num_imgs, -1, out.size(1))
        for out in outs
    ], 1)


def _column(weights: Optional[Tensor]) -> Optional[Tensor]:
    """(N, ) multipliers as (N, 1), to broadcast over a loss's last dim;
    None for None."""
    return None if weights is None else weights[:, None]


def _join_images(per_img: List[SampleWeights]) -> SampleWeights:
    """B images' (S, ) multipliers joined to (B * S, ), ones for an image
    without; a field is None when every image's is."""
    fields = []
    for field in zip(*per_img):
        if all(w is None for w in field):
            fields.append(None)
            continue
        ref = next(w for w in field if w is not None)
        fields.append(
            torch.cat(
                [torch.ones_like(ref) if w is None else w for w in field]))
    return SampleWeights(*fields)
