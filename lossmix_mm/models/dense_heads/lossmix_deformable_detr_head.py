"""Deformable DETR head whose matched queries carry their gt's weight."""
from typing import List, Optional

from mmdet.models.dense_heads import DeformableDETRHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from .lossmix_detr_head import LossMixQueryTargetsMixin


@MODELS.register_module()
class LossMixDeformableDETRHead(LossMixQueryTargetsMixin, DeformableDETRHead):
    """``DeformableDETRHead`` trained with LossMix's per-instance weights.

    Every decoder layer's matched queries take their gt's ``loss_weights``
    (classification if ``mix_cls``, L1 and GIoU if ``mix_reg``) and
    ``reg_weights`` (box terms), see :class:`LossMixQueryTargetsMixin`.
    With ``as_two_stage=True`` the encoder proposals are matched to a deep
    copy of the gts with labels 0, which keeps the weights: a proposal
    matched to a gt takes its weights too. Without weights (or all ones)
    every loss equals the stock head's exactly.

    Args:
        mix_cls (bool): weight the classification loss. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        *args, **kwargs: ``DeformableDETRHead`` arguments.
    """

    def loss_by_feat(
            self,
            all_layers_cls_scores: Tensor,
            all_layers_bbox_preds: Tensor,
            enc_cls_scores: Optional[Tensor],
            enc_bbox_preds: Optional[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """``DeformableDETRHead.loss_by_feat``; Eq. 14 term by term when
        exact (layer outputs hold the images on dim 1, encoder ones on 0)."""
        outs = (all_layers_cls_scores, all_layers_bbox_preds, enc_cls_scores,
                enc_bbox_preds)
        return self._loss_or_terms(
            super().loss_by_feat,
            outs,
            batch_gt_instances,
            batch_img_metas,
            batch_gt_instances_ignore,
            image_dims=(1, 1, 0, 0))
