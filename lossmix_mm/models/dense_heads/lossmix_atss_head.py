"""ATSS head whose positive anchors carry their gt's LossMix weight."""
from typing import List, Optional

from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import ATSSHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import scaled_loss
from .lossmix_dense_head_mixin import LossMixDenseHeadMixin


@MODELS.register_module()
class LossMixATSSHead(LossMixDenseHeadMixin, ATSSHead):
    """``ATSSHead`` trained with LossMix's per-instance loss weights.

    ``ATSSHead.loss_by_feat_single`` reads the label weights of the targets
    (focal loss) but not the bbox weights: its GIoU loss is weighted by the
    positives' centerness targets (normalised by their sum over the batch)
    and its centerness loss is unweighted (normalised by the samplings'
    ``avg_factor``). A positive anchor's label weight is multiplied by
    ``gt_instances.loss_weights`` of its gt (``mix_cls``); its GIoU and
    centerness losses are multiplied by the same (``mix_reg``) through
    :func:`~lossmix_mm.models.utils.scaled_loss`, the GIoU loss also by
    ``gt_instances.reg_weights``. The two multipliers ride from
    ``_get_targets_single`` to ``loss_by_feat_single`` as extra columns of
    the label weights (:meth:`_pack_label_weights`), because the stock
    ``loss_by_feat`` passes nothing else on. Negatives and every normaliser
    (computed from the unweighted centerness targets) are unchanged; without
    ``loss_weights`` and ``reg_weights`` (or with all-ones weights) the stock
    losses run on the stock values.

    With ``exact=True`` the loss is Eq. 14 to the letter: the anchors are
    assigned once to the own image's gts and once to the partner's, the
    stock loss of each pass is weighted per image by its coefficient and
    the passes are added (exact for one image; in a batch, images weigh by
    their normalisers within a pass, as in stock mmdet).

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their GIoU and centerness losses. Defaults
            to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``ATSSHead`` arguments.
    """

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     centernesses: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """``ATSSHead.loss_by_feat``, summed over the passes of Eq. 14 in
        exact mode."""
        loss_by_feat = super().loss_by_feat
        if not self.exact:
            return loss_by_feat(cls_scores, bbox_preds, centernesses,
                                batch_gt_instances, batch_img_metas,
                                batch_gt_instances_ignore)
        return self._loss_by_passes(loss_by_feat,
                                    (cls_scores, bbox_preds, centernesses),
                                    batch_gt_instances, batch_img_metas,
                                    batch_gt_instances_ignore)

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor,
                            bbox_pred: Tensor, centerness: Tensor,
                            labels: Tensor, label_weights: Tensor,
                            bbox_targets: Tensor, avg_factor: float) -> tuple:
        """``ATSSHead.loss_by_feat_single`` of one level; ``label_weights``
        is (B, A_l, 3): the label weights, the GIoU and the centerness
        multipliers (see :meth:`_get_targets_single`)."""
        label_weights, (reg_w, quality_w) = self._unpack_label_weights(
            labels, label_weights)
        with scaled_loss(self, 'loss_bbox', reg_w), \
                scaled_loss(self, 'loss_centerness', quality_w):
            return super().loss_by_feat_single(anchors, cls_score, bbox_pred,
                                               centerness, labels,
                                               label_weights, bbox_targets,
                                               avg_factor)

    def _get_targets_single(self,
                            flat_anchors: Tensor,
                            valid_flags: Tensor,
                            num_level_anchors: List[int],
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``ATSSHead._get_targets_single`` with weighted positives.

        Returns the parent's tuple, except that ``label_weights`` is
        (S, 3): the label weights times the classification multipliers of
        :meth:`_sample_multipliers`, then the regression and the centerness
        multipliers (ones for every anchor of an unweighted image).
        """
        targets = super()._get_targets_single(flat_anchors, valid_flags,
                                              num_level_anchors, gt_instances,
                                              img_meta, gt_instances_ignore,
                                              unmap_outputs)
        (anchors, labels, label_weights, bbox_targets, bbox_weights,
         pos_inds, neg_inds, sampling_result) = targets
        cls_w = reg_w = quality_w = None
        if self._is_weighted(gt_instances):
            gt_inds = self._anchor_gt_inds(flat_anchors, valid_flags,
                                           img_meta, sampling_result,
                                           unmap_outputs)
            cls_w, reg_w, quality_w = self._sample_multipliers(
                gt_inds, gt_instances)
        if cls_w is not None:
            label_weights = label_weights * cls_w.to(label_weights)
        label_weights = self._pack_label_weights(label_weights,
                                                 (reg_w, quality_w))
        return (anchors, labels, label_weights, bbox_targets, bbox_weights,
                pos_inds, neg_inds, sampling_result)
