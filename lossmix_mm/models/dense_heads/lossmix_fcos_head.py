"""FCOS head whose positive points carry their gt's LossMix weight."""
from contextlib import ExitStack
from typing import Dict, List

import torch
from torch import Tensor

from mmdet.models.dense_heads import FCOSHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import scaled_loss
from .lossmix_dense_head_mixin import LossMixDenseHeadMixin, ones_to_none


@MODELS.register_module()
class LossMixFCOSHead(LossMixDenseHeadMixin, FCOSHead):
    """``FCOSHead`` trained with LossMix's per-instance loss weights.

    FCOS assigns a point to the smallest gt that holds it (within the
    level's regression range) and has no target weights: its losses are
    called with the focal loss over all points, the IoU loss of the
    positives weighted by their centerness targets, and the centerness loss
    of the positives. A positive point takes the weight of its gt in each:
    ``gt_instances.loss_weights`` in the focal loss (``mix_cls``), in the IoU
    and centerness losses (``mix_reg``), ``gt_instances.reg_weights`` in the
    IoU loss only; negatives keep 1. The multipliers reach the stock losses
    through :func:`~lossmix_mm.models.utils.scaled_loss`, in the flattened
    order of ``FCOSHead.loss_by_feat``; its normalisers (positive count,
    sum of the centerness targets) are unchanged. Without ``loss_weights``
    and ``reg_weights`` (or with all-ones weights) the stock code runs.

    The assigned gt of each point is read from ``FCOSHead.get_targets``
    itself, called with the gt labels replaced by -(k + 1) for gt k of the
    batch (it only copies labels, and writes ``num_classes`` for
    background), so the assignment is FCOS's own, whatever its settings
    (center sampling, regression ranges).

    With ``exact=True`` the loss is Eq. 14 to the letter: the points are
    assigned once to the own image's gts and once to the partner's, the
    stock loss of each pass is weighted per image by its coefficient and
    the passes are added (exact for one image; in a batch, images weigh by
    their positive counts within a pass, as in stock mmdet).

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their IoU and centerness losses. Defaults to
            True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``FCOSHead`` arguments.
    """

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            centernesses: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """``FCOSHead.loss_by_feat`` with weighted positives (summed over
        the passes of Eq. 14 in exact mode)."""
        if self.exact:
            return self._loss_by_passes(
                self._weighted_loss_by_feat,
                (cls_scores, bbox_preds, centernesses), batch_gt_instances,
                batch_img_metas, batch_gt_instances_ignore)
        return self._weighted_loss_by_feat(cls_scores, bbox_preds,
                                           centernesses, batch_gt_instances,
                                           batch_img_metas,
                                           batch_gt_instances_ignore)

    def _weighted_loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            centernesses: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """The stock loss, its three loss modules scaled per point."""
        loss_args = (cls_scores, bbox_preds, centernesses, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore)
        if not any(self._is_weighted(gt) for gt in batch_gt_instances):
            return super().loss_by_feat(*loss_args)
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        cls_w, reg_w, quality_w = self._point_multipliers(
            points, batch_gt_instances)
        with ExitStack() as stack:
            for name, scale in (('loss_cls', cls_w), ('loss_bbox', reg_w),
                                ('loss_centerness', quality_w)):
                stack.enter_context(scaled_loss(self, name, scale))
            return super().loss_by_feat(*loss_args)

    def _point_multipliers(self, points: List[Tensor],
                           batch_gt_instances: InstanceList) -> tuple:
        """Multipliers in ``FCOSHead.loss_by_feat``'s flattened order.

        Args:
            points (list[Tensor]): per level (P_l, 2) points.
            batch_gt_instances (InstanceList): B sets of gts.

        Returns:
            tuple[Tensor or None, ...]: the classification multiplier of
            every point (S = B * sum_l P_l, level-major, then image, then
            position), the regression and the centerness multipliers of the
            positives, in that order (P, ); None where all are 1.
        """
        gt_inds = self.point_assigned_gt_inds(points, batch_gt_instances)
        num_points = [len(each) for each in points]
        per_img = [
            self._sample_multipliers(inds, gt)
            for inds, gt in zip(gt_inds, batch_gt_instances)
        ]
        pos = torch.cat([
            level.reshape(-1) for level in _to_levels(
                [(inds >= 0) for inds in gt_inds], num_points)
        ])
        multipliers = []
        for term in range(3):
            weights = [
                torch.ones(len(inds), device=inds.device) if w[term] is None
                else w[term] for w, inds in zip(per_img, gt_inds)
            ]
            flat = torch.cat([
                level.reshape(-1) for level in _to_levels(weights, num_points)
            ])
            multipliers.append(ones_to_none(flat if term == 0 else flat[pos]))
        return tuple(multipliers)

    def point_assigned_gt_inds(
            self, points: List[Tensor],
            batch_gt_instances: InstanceList) -> List[Tensor]:
        """The gt each point is assigned to, by ``self.get_targets``.

        Args:
            points (list[Tensor]): per level (P_l, 2) points.
            batch_gt_instances (InstanceList): B sets of N_b gts.

        Returns:
            list[Tensor]: per image, (sum_l P_l, ) long, level-major: the
            index (into the image's gts) of the gt each point is assigned
            to, -1 for background.
        """
        offsets, encoded, start = [], [], 0
        for gt in batch_gt_instances:
            codes = -(start + torch.arange(
                len(gt), device=gt.bboxes.device) + 1)
            encoded.append(gt.new(bboxes=gt.bboxes, labels=codes))
            offsets.append(start)
            start += len(gt)
        labels, _ = self.get_targets(points, encoded)
        num_imgs = len(batch_gt_instances)
        # per level (B * P_l, ) -> (B, sum_l P_l)
        codes = torch.cat([level.view(num_imgs, -1) for level in labels],
                          dim=1)
        gt_inds = []
        for img, offset in enumerate(offsets):
            row = codes[img]
            gt_inds.append(torch.where(row < 0, -row - 1 - offset,
                                       torch.full_like(row, -1)))
        return gt_inds


def _to_levels(per_img: List[Tensor], num_points: List[int]) -> List[Tensor]:
    """Per image (sum_l P_l, ) -> per level (B, P_l), FCOS's layout."""
    stacked = torch.stack(per_img)
    return list(stacked.split(num_points, dim=1))
