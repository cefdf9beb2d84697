"""RTMDet head whose positive priors carry their gt's LossMix weight."""
from typing import List, Optional

from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import RTMDetSepBNHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import scaled_loss
from .lossmix_dense_head_mixin import LossMixDenseHeadMixin


@MODELS.register_module()
class LossMixRTMDetSepBNHead(LossMixDenseHeadMixin, RTMDetSepBNHead):
    """``RTMDetSepBNHead`` trained with LossMix's per-instance loss weights.

    RTMDet assigns priors with ``DynamicSoftLabelAssigner`` (which reads the
    gt labels and the predictions). Its quality focal loss reads the label
    weights of the targets and is normalised by the sum of the positives'
    assign metrics (IoUs); its GIoU loss is weighted by those metrics and
    normalised by the same sum. A positive prior's label weight is
    multiplied by ``gt_instances.loss_weights`` of its gt (``mix_cls``), its
    GIoU loss by the same (``mix_reg``, through
    :func:`~lossmix_mm.models.utils.scaled_loss`) and by
    ``gt_instances.reg_weights``. The regression multiplier rides from
    ``_get_targets_single`` to ``loss_by_feat_single`` as a second column of
    the label weights (:meth:`_pack_label_weights`); the assign metrics, and
    so both normalisers, are the stock ones. Without ``loss_weights`` and
    ``reg_weights`` (or with all-ones weights) the stock losses run on the
    stock values.

    With ``exact=True`` the loss is Eq. 14 to the letter: the priors are
    assigned once to the own image's gts and once to the partner's, the
    stock loss of each pass is weighted per image by its coefficient and
    the passes are added (exact for one image; in a batch, images weigh by
    their assign-metric sums within a pass, as in stock mmdet).

    Args:
        mix_cls (bool): weight the quality focal loss of the positives.
            Defaults to True.
        mix_reg (bool): weight their GIoU loss. Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``RTMDetSepBNHead`` arguments.
    """

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """``RTMDetHead.loss_by_feat``, summed over the passes of Eq. 14 in
        exact mode."""
        loss_by_feat = super().loss_by_feat
        if not self.exact:
            return loss_by_feat(cls_scores, bbox_preds, batch_gt_instances,
                                batch_img_metas, batch_gt_instances_ignore)
        return self._loss_by_passes(loss_by_feat, (cls_scores, bbox_preds),
                                    batch_gt_instances, batch_img_metas,
                                    batch_gt_instances_ignore)

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor,
                            labels: Tensor, label_weights: Tensor,
                            bbox_targets: Tensor, assign_metrics: Tensor,
                            stride: List[int]) -> tuple:
        """``RTMDetHead.loss_by_feat_single`` of one level;
        ``label_weights`` is (B, A_l, 2): the label weights and the GIoU
        multipliers (see :meth:`_get_targets_single`)."""
        label_weights, (reg_w, ) = self._unpack_label_weights(
            labels, label_weights)
        with scaled_loss(self, 'loss_bbox', reg_w):
            return super().loss_by_feat_single(cls_score, bbox_pred, labels,
                                               label_weights, bbox_targets,
                                               assign_metrics, stride)

    def _get_targets_single(self,
                            cls_scores: Tensor,
                            bbox_preds: Tensor,
                            flat_anchors: Tensor,
                            valid_flags: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``RTMDetHead._get_targets_single`` with weighted positives.

        Returns the parent's tuple, except that ``label_weights`` is
        (S, 2): the label weights times the classification multipliers of
        :meth:`_sample_multipliers`, then the regression multipliers (ones
        for every prior of an unweighted image).
        """
        targets = super()._get_targets_single(cls_scores, bbox_preds,
                                              flat_anchors, valid_flags,
                                              gt_instances, img_meta,
                                              gt_instances_ignore,
                                              unmap_outputs)
        if targets[1] is None:  # no prior inside the image
            return targets
        (anchors, labels, label_weights, bbox_targets, assign_metrics,
         sampling_result) = targets
        cls_w = reg_w = None
        if self._is_weighted(gt_instances):
            gt_inds = self._anchor_gt_inds(flat_anchors, valid_flags,
                                           img_meta, sampling_result,
                                           unmap_outputs)
            cls_w, reg_w, _ = self._sample_multipliers(gt_inds, gt_instances)
        if cls_w is not None:
            label_weights = label_weights * cls_w.to(label_weights)
        label_weights = self._pack_label_weights(label_weights, (reg_w, ))
        return (anchors, labels, label_weights, bbox_targets, assign_metrics,
                sampling_result)
