"""DETR head whose matched queries carry their gt's LossMix weight."""
import copy
import inspect
from typing import Optional, Tuple

import torch
from mmdet.models.dense_heads import DETRHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_xyxy_to_cxcywh
from mmdet.utils import ConfigType
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import check_gt_labels, times
from .lossmix_dense_head_mixin import LossMixDenseHeadMixin, exact_loss_terms


class LossMixQueryTargetsMixin(LossMixDenseHeadMixin):
    """Weighted Hungarian targets for ``DETRHead`` and its subclasses.

    Put it before the stock head in the bases. ``_get_targets_single`` is
    the stock one with each query's multipliers: a matched query takes its
    gt's ``loss_weights`` in ``label_weights`` (``mix_cls``) and
    ``bbox_weights`` (``mix_reg``, times ``reg_weights``). Unmatched queries
    and the normalisers are untouched. The stock head computes every decoder
    layer's (and the encoder proposals') loss through it, so the rule holds
    in every layer. Hungarian matching takes every query, so ``exact=True``
    (each label set matched on its own) is Eq. 14 exactly.

    Args:
        mix_cls (bool): weight the classification loss of matched queries.
            Defaults to True.
        mix_reg (bool): weight their box losses (L1 and IoU). Defaults to
            True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        *args, **kwargs: the stock head's arguments.
    """

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
            tuple: ``(labels, label_weights (Q, ), bbox_targets,
            bbox_weights (Q, 4), pos_inds, neg_inds)``.
        """
        check_gt_labels(gt_instances, self.num_classes, img_meta)
        img_h, img_w = img_meta['img_shape']
        factor = bbox_pred.new_tensor([img_w, img_h, img_w, img_h])[None]
        bbox_pred = bbox_cxcywh_to_xyxy(bbox_pred) * factor
        assign_result = self.assigner.assign(
            pred_instances=InstanceData(scores=cls_score, bboxes=bbox_pred),
            gt_instances=gt_instances,
            img_meta=img_meta)
        gt_bboxes = gt_instances.bboxes
        pos_inds = torch.nonzero(
            assign_result.gt_inds > 0, as_tuple=False).squeeze(-1).unique()
        neg_inds = torch.nonzero(
            assign_result.gt_inds == 0, as_tuple=False).squeeze(-1).unique()
        pos_assigned_gt_inds = assign_result.gt_inds[pos_inds] - 1
        labels = gt_bboxes.new_full((bbox_pred.size(0), ),
                                    self.num_classes,
                                    dtype=torch.long)
        labels[pos_inds] = gt_instances.labels[pos_assigned_gt_inds]
        bbox_targets = torch.zeros_like(bbox_pred, dtype=gt_bboxes.dtype)
        bbox_weights = torch.zeros_like(bbox_pred, dtype=gt_bboxes.dtype)
        bbox_weights[pos_inds] = 1.0
        bbox_targets[pos_inds] = bbox_xyxy_to_cxcywh(
            gt_bboxes[pos_assigned_gt_inds.long(), :] / factor)
        weights = self._sample_weights(assign_result.gt_inds - 1, gt_instances,
                                       img_meta)
        return (labels,
                times(gt_bboxes.new_ones(bbox_pred.size(0)),
                      weights.cls), bbox_targets,
                times(bbox_weights, weights.reg), pos_inds, neg_inds)


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
    equals ``DETRHead``'s exactly. ``exact=True``: Eq. 14 term by term,
    the queries matched to each label set on its own.

    ``loss_cls`` is prepared as ``DETRHead`` prepares it for itself (float
    ``class_weight`` and ``bg_cls_weight`` to a class-weight tensor, see
    :func:`detr_class_weight`), so mmdet's DETR configs build with only the
    type swapped.

    Args:
        num_classes (int): foreground classes.
        loss_cls (dict, optional): ``DETRHead``'s; None: its default.
        mix_cls (bool): weight the classification loss. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: the other ``DETRHead`` arguments.
    """

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

    # the stock loss; Eq. 14 term by term when exact (the layer outputs
    # (L, B, ...) hold the images on dim 1)
    loss_by_feat = exact_loss_terms(DETRHead.loss_by_feat, image_dims=(1, 1))
