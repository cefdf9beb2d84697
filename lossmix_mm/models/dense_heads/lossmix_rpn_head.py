"""RPN head whose positive anchors carry their gt's LossMix weight."""
from typing import List, Optional, Union

from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import RPNHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS
from mmdet.structures.bbox import BaseBoxes
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import (get_gt_loss_weights, get_gt_reg_weights,
                     mix_group_passes, positive_loss_weights,
                     scale_target_weights, sum_pass_losses)


@MODELS.register_module()
class LossMixRPNHead(RPNHead):
    """``RPNHead`` trained with LossMix's per-instance loss weights.

    Only target building changes: the classification and regression weights
    of a positive anchor are multiplied by ``gt_instances.loss_weights`` of
    the gt it is assigned to; negatives and the loss normaliser are untouched.
    Independently of ``mix_cls`` / ``mix_reg``, the regression weights of a
    positive anchor are multiplied by ``gt_instances.reg_weights`` of its gt
    (0 allowed: the box loss is normalised by the samplings' ``avg_factor``,
    not by the weights). Without ``loss_weights`` and ``reg_weights`` (or
    with all-ones weights) every loss equals ``RPNHead``'s.

    With ``exact=True`` the loss is Eq. 14 to the letter: anchors are
    assigned and sampled once against the own image's gts (``mix_group`` 0)
    and once against the partner's (1), the stock loss of each pass is
    weighted per image by its coefficient (lam / 1 - lam for LossMix, by the
    metainfo ``mix_mode`` and ``mix_lambda``, see
    :func:`~lossmix_mm.models.utils.group_coefficients`), scaled by the
    pass's share of the batch and the passes are added. It costs a second
    assignment, not a second forward. The normaliser is exact when every
    image's ``SamplingResult.avg_factor`` is the same (see
    :func:`~lossmix_mm.models.utils.mix_group_passes`).

    Args:
        mix_cls (bool): weight the objectness loss. Defaults to True.
        mix_reg (bool): weight the box-regression loss. Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``RPNHead`` arguments.
    """

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 exact: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if exact and not (mix_cls and mix_reg):
            raise ValueError('exact=True mixes every loss term (Eq. 14): it '
                             'needs mix_cls=True and mix_reg=True, got '
                             f'mix_cls={mix_cls}, mix_reg={mix_reg}')
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        self.exact = exact

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """``RPNHead.loss_by_feat``; in exact mode the sum over the passes
        of :func:`mix_group_passes` (own gts, then the partner's), each
        scaled by its ``loss_scale``."""
        if not self.exact:
            return super().loss_by_feat(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        passes = mix_group_passes(batch_gt_instances, batch_img_metas)
        pass_losses = []
        for group_pass in passes:
            inds = group_pass.img_inds
            ignore = None if batch_gt_instances_ignore is None else [
                batch_gt_instances_ignore[i] for i in inds
            ]
            pass_losses.append(super().loss_by_feat(
                [score[inds] for score in cls_scores],
                [pred[inds] for pred in bbox_preds], group_pass.gt_instances,
                [batch_img_metas[i] for i in inds], ignore))
        return sum_pass_losses(pass_losses,
                               [each.loss_scale for each in passes])

    def _get_targets_single(self,
                            flat_anchors: Union[Tensor, BaseBoxes],
                            valid_flags: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``AnchorHead._get_targets_single`` with weighted positives.

        Returns the same tuple as the parent; ``label_weights`` and
        ``bbox_weights`` of positive anchors are scaled by their gt's
        ``loss_weights`` (as ``mix_cls`` / ``mix_reg`` say), ``bbox_weights``
        of positive anchors by their gt's ``reg_weights`` and, in an
        exact-mode pass, those of all anchors by the image's coefficient
        (``gt_instances.metainfo['mix_coeff']``).
        """
        targets = super()._get_targets_single(flat_anchors, valid_flags,
                                              gt_instances, img_meta,
                                              gt_instances_ignore,
                                              unmap_outputs)
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds, sampling_result) = targets
        coeff = gt_instances.metainfo.get('mix_coeff', 1.0)
        if coeff != 1.0:
            label_weights = label_weights * coeff
            bbox_weights = bbox_weights * coeff
        gt_weights = get_gt_loss_weights(gt_instances)
        if not (self.mix_cls or self.mix_reg):
            gt_weights = None
        reg_weights = get_gt_reg_weights(gt_instances)
        if (gt_weights is None and reg_weights is None) or \
                pos_inds.numel() == 0:
            return (labels, label_weights, bbox_targets, bbox_weights,
                    pos_inds, neg_inds, sampling_result)

        # pos_inds index the anchors inside the image; the weights returned
        # by the parent cover all anchors when unmap_outputs is True.
        anchor_inds = pos_inds
        if unmap_outputs:
            inside_flags = anchor_inside_flags(
                flat_anchors, valid_flags, img_meta['img_shape'][:2],
                self.train_cfg['allowed_border'])
            anchor_inds = inside_flags.nonzero(as_tuple=True)[0][pos_inds]
        assigned = sampling_result.pos_assigned_gt_inds
        device = label_weights.device
        pos_weights = None if gt_weights is None else positive_loss_weights(
            assigned, gt_weights.to(device))
        pos_reg = None if reg_weights is None else positive_loss_weights(
            assigned, reg_weights.to(device))
        pos_label_w, pos_bbox_w = scale_target_weights(
            label_weights[anchor_inds], bbox_weights[anchor_inds], pos_weights,
            self.mix_cls, self.mix_reg, pos_reg)
        label_weights = label_weights.clone()
        bbox_weights = bbox_weights.clone()
        label_weights[anchor_inds] = pos_label_w
        bbox_weights[anchor_inds] = pos_bbox_w
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
                neg_inds, sampling_result)
