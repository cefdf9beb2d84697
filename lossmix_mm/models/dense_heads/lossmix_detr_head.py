"""DETR head whose matched queries carry their gt's LossMix weight."""
import copy
import inspect
from typing import Optional, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import DETRHead
from mmdet.registry import MODELS
from mmdet.utils import ConfigType
from ..utils import cls_reg_sample_weights, recorded_assignments


class LossMixQueryTargetsMixin:
    """Weighted Hungarian targets for ``DETRHead`` and its subclasses.

    Put it before the stock head in the bases. ``_get_targets_single`` runs
    the stock method unchanged, reads the query -> gt matching off the
    assigner's ``AssignResult`` (:func:`recorded_assignments`) and scales
    the targets of every matched query by its gt's weights:
    ``label_weights`` by ``gt_instances.loss_weights`` (if ``mix_cls``),
    ``bbox_weights`` by ``loss_weights`` (if ``mix_reg``) and by
    ``gt_instances.reg_weights``. Unmatched queries and the normalisers
    (``num_total_pos``, ``cls_avg_factor`` with its ``bg_cls_weight`` part)
    are untouched. The stock head computes every decoder layer's (and the
    encoder proposals') loss through ``_get_targets_single``, so the rule
    holds in every layer.

    Args:
        mix_cls (bool): weight the classification loss of matched queries.
            Defaults to True.
        mix_reg (bool): weight their box losses (L1 and IoU). Defaults to
            True.
        *args, **kwargs: the stock head's arguments.
    """

    reads_loss_weights = True

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg

    def _get_targets_single(self, cls_score: Tensor, bbox_pred: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict) -> tuple:
        """``DETRHead._get_targets_single`` with weighted matched queries.

        Args:
            cls_score (Tensor): (Q, C) scores of one image, one layer.
            bbox_pred (Tensor): (Q, 4) normalised cxcywh boxes.
            gt_instances (InstanceData): the image's N gts, optional
                ``loss_weights`` / ``reg_weights`` (N, ).
            img_meta (dict): the image's meta information.

        Returns:
            tuple: the stock tuple ``(labels, label_weights, bbox_targets,
            bbox_weights, pos_inds, neg_inds)``, weights (Q, ) and (Q, 4)
            scaled for the matched queries.
        """
        with recorded_assignments(self) as assign_results:
            targets = super()._get_targets_single(cls_score, bbox_pred,
                                                  gt_instances, img_meta)
        if len(assign_results) != 1:
            raise RuntimeError(
                f'{type(self).__name__}: expected one assignment per image, '
                f'the stock targets made {len(assign_results)}')
        # AssignResult.gt_inds: 0 unmatched, -1 ignored, k + 1 for gt k
        matched_gt = assign_results[0].gt_inds - 1
        return scale_query_targets(targets, matched_gt, gt_instances,
                                   self.mix_cls, self.mix_reg)


def scale_query_targets(targets: tuple, query_gt_inds: Tensor,
                        gt_instances: InstanceData, mix_cls: bool,
                        mix_reg: bool) -> tuple:
    """Scale a DETR-style target tuple by the weights of each query's gt.

    Args:
        targets (tuple): ``(labels, label_weights (Q, ), bbox_targets,
            bbox_weights (Q, 4), pos_inds, neg_inds)``.
        query_gt_inds (Tensor): (Q, ) long, the gt each query answers for,
            < 0 for none (weight 1).
        gt_instances (InstanceData): the image's gts.
        mix_cls (bool): ``label_weights`` take ``loss_weights``.
        mix_reg (bool): ``bbox_weights`` take ``loss_weights``
            (``reg_weights`` always).

    Returns:
        tuple: the same tuple with new ``label_weights`` / ``bbox_weights``;
        the input tuple itself when the gts carry no weights.
    """
    cls_w, reg_w = cls_reg_sample_weights(query_gt_inds, gt_instances, mix_cls,
                                          mix_reg)
    if cls_w is None and reg_w is None:
        return targets
    (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
     neg_inds) = targets
    if cls_w is not None:
        label_weights = label_weights * cls_w.to(label_weights)
    if reg_w is not None:
        bbox_weights = bbox_weights * reg_w[:, None].to(bbox_weights)
    return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
            neg_inds)


def detr_class_weight(loss_cls: ConfigType,
                      num_classes: int) -> Tuple[ConfigType, float]:
    """What ``DETRHead.__init__`` does to ``loss_cls`` for its own class.

    ``DETRHead`` turns a float ``class_weight`` and ``bg_cls_weight`` into a
    (num_classes + 1, ) class-weight tensor (background last) and removes
    ``bg_cls_weight``, but only when ``self.__class__ is DETRHead``: in a
    subclass, ``CrossEntropyLoss`` would receive ``bg_cls_weight`` and fail
    to build (mmdet's DETR configs set it).

    Args:
        loss_cls (dict): the classification loss config (not modified).
        num_classes (int): foreground classes.

    Returns:
        tuple[dict, float]: the loss config to build and the head's
        ``bg_cls_weight`` (0 when ``class_weight`` is absent).
    """
    loss_cls = copy.deepcopy(loss_cls)
    class_weight = loss_cls.get('class_weight', None)
    if class_weight is None:
        return loss_cls, 0
    if not isinstance(class_weight, float):
        raise TypeError('Expected class_weight to have type float. Found '
                        f'{type(class_weight)}.')
    bg_cls_weight = loss_cls.pop('bg_cls_weight', class_weight)
    if not isinstance(bg_cls_weight, float):
        raise TypeError('Expected bg_cls_weight to have type float. Found '
                        f'{type(bg_cls_weight)}.')
    weights = torch.ones(num_classes + 1) * class_weight
    weights[num_classes] = bg_cls_weight
    loss_cls['class_weight'] = weights
    return loss_cls, bg_cls_weight


@MODELS.register_module()
class LossMixDETRHead(LossMixQueryTargetsMixin, DETRHead):
    """``DETRHead`` trained with LossMix's per-instance loss weights.

    A query matched (Hungarian assignment) to a gt takes that gt's
    ``loss_weights`` in its classification (``mix_cls``) and L1 / GIoU
    (``mix_reg``) terms, in every decoder layer; ``reg_weights`` multiply
    its box terms only. Unmatched queries and every normaliser are
    unchanged, so without weights (or with all-ones weights) every loss
    equals ``DETRHead``'s exactly. ``exact`` (Eq. 14 with one assignment
    per source image) is not supported.

    ``loss_cls`` is prepared as ``DETRHead`` prepares it for itself (float
    ``class_weight`` and ``bg_cls_weight`` to a class-weight tensor, see
    :func:`detr_class_weight`), so mmdet's DETR configs build with only the
    type swapped.

    Args:
        num_classes (int): foreground classes.
        loss_cls (dict, optional): ``DETRHead``'s; None: its default.
        mix_cls (bool): weight the classification loss. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        **kwargs: the other ``DETRHead`` arguments.
    """

    reads_loss_weights = True

    def __init__(self,
                 num_classes: int,
                 *args,
                 loss_cls: Optional[ConfigType] = None,
                 **kwargs) -> None:
        if loss_cls is None:
            loss_cls = inspect.signature(
                DETRHead.__init__).parameters['loss_cls'].default
        loss_cls, bg_cls_weight = detr_class_weight(loss_cls, num_classes)
        super().__init__(num_classes, *args, loss_cls=loss_cls, **kwargs)
        self.bg_cls_weight = bg_cls_weight
