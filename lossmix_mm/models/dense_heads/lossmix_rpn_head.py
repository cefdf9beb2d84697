"""RPN head whose positive anchors carry their gt's LossMix weight."""
from typing import Optional, Union

from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import RPNHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS
from mmdet.structures.bbox import BaseBoxes
from ..utils import (get_gt_loss_weights, positive_loss_weights,
                     scale_target_weights)


@MODELS.register_module()
class LossMixRPNHead(RPNHead):
    """``RPNHead`` trained with LossMix's per-instance loss weights.

    Only target building changes: the classification and regression weights
    of a positive anchor are multiplied by ``gt_instances.loss_weights`` of
    the gt it is assigned to; negatives and the loss normaliser are untouched.
    Without ``loss_weights`` (or with all-ones weights) every loss equals
    ``RPNHead``'s.

    Args:
        mix_cls (bool): weight the objectness loss. Defaults to True.
        mix_reg (bool): weight the box-regression loss. Defaults to True.
        **kwargs: ``RPNHead`` arguments.
    """

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg

    def _get_targets_single(self,
                            flat_anchors: Union[Tensor, BaseBoxes],
                            valid_flags: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``AnchorHead._get_targets_single`` with weighted positives.

        Returns the same tuple as the parent; ``label_weights`` and
        ``bbox_weights`` of positive anchors are scaled by their gt's weight.
        """
        targets = super()._get_targets_single(flat_anchors, valid_flags,
                                              gt_instances, img_meta,
                                              gt_instances_ignore,
                                              unmap_outputs)
        gt_weights = get_gt_loss_weights(gt_instances)
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds, sampling_result) = targets
        if gt_weights is None or pos_inds.numel() == 0 or not (
                self.mix_cls or self.mix_reg):
            return targets

        # pos_inds index the anchors inside the image; the weights returned
        # by the parent cover all anchors when unmap_outputs is True.
        anchor_inds = pos_inds
        if unmap_outputs:
            inside_flags = anchor_inside_flags(
                flat_anchors, valid_flags, img_meta['img_shape'][:2],
                self.train_cfg['allowed_border'])
            anchor_inds = inside_flags.nonzero(as_tuple=True)[0][pos_inds]
        pos_weights = positive_loss_weights(
            sampling_result.pos_assigned_gt_inds,
            gt_weights.to(label_weights.device))
        pos_label_w, pos_bbox_w = scale_target_weights(
            label_weights[anchor_inds], bbox_weights[anchor_inds], pos_weights,
            self.mix_cls, self.mix_reg)
        label_weights = label_weights.clone()
        bbox_weights = bbox_weights.clone()
        label_weights[anchor_inds] = pos_label_w
        bbox_weights[anchor_inds] = pos_bbox_w
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
                neg_inds, sampling_result)
