"""Standard RoI head whose positive RoIs carry their gt's LossMix weight."""
from typing import List, Tuple

from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from .lossmix_roi_head_mixin import LossMixRoIHeadMixin


@MODELS.register_module()
class LossMixRoIHead(LossMixRoIHeadMixin, StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    The classification and regression target weights of a positive RoI are
    multiplied by ``gt_instances.loss_weights`` of the gt it is assigned to;
    negatives and the bbox head's normalisers are untouched (weights in
    (0, 1] keep mmdet's count of ``label_weights > 0``). Independently of
    ``mix_cls`` / ``mix_reg``, the regression weights of a positive RoI are
    multiplied by ``gt_instances.reg_weights`` of its gt (0 allowed:
    ``BBoxHead.loss`` divides the box loss by the number of sampled RoIs,
    not by the weights). With a mask head (Mask R-CNN) and ``mix_mask``, the
    mask loss of a positive RoI is multiplied by its gt's ``loss_weights``
    (not by ``reg_weights``), the normaliser (all positive RoIs x pixels)
    unchanged; the stock mask loss has no weight argument, so it is called
    once per distinct weight (see
    :func:`~lossmix_mm.models.utils.roi_weighted_mean`, exact by
    linearity). Without ``loss_weights`` and ``reg_weights`` (or with
    all-ones weights) every loss equals ``StandardRoIHead``'s.

    With ``exact=True`` the loss is Eq. 14 to the letter: proposals are
    assigned and sampled once against the own image's gts (``mix_group`` 0)
    and once against the partner's (1), the stock loss of each pass (masks
    included) is weighted per image by its coefficient (lam / 1 - lam for
    LossMix, by the metainfo ``mix_mode`` and ``mix_lambda``, see
    :func:`~lossmix_mm.models.utils.group_coefficients`), scaled by the
    pass's share of the batch and the passes are added. It costs a second
    assignment and RoI-head pass, not a second backbone forward. The
    normaliser is exact when every image has the same number of sampled RoIs
    (see :func:`~lossmix_mm.models.utils.mix_group_passes`); the mask loss
    of a pass averages over the pass's positive RoIs, as stock mmdet
    averages over the batch's.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        mix_mask (bool): weight the mask loss. Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``StandardRoIHead`` arguments.
    """

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head loss with positive RoIs weighted by their gt's weights.

        Returns the same dict as ``StandardRoIHead.bbox_loss``.
        """
        targets = self._weighted_bbox_targets(self.bbox_head,
                                              sampling_results,
                                              self.train_cfg)
        if targets is None:
            return super().bbox_loss(x, sampling_results)
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        loss_bbox = self.bbox_head.loss(bbox_results['cls_score'],
                                        bbox_results['bbox_pred'], rois,
                                        *targets)
        bbox_results.update(loss_bbox=loss_bbox)
        return bbox_results

    def mask_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult], bbox_feats: Tensor,
                  batch_gt_instances: InstanceList) -> dict:
        """``StandardRoIHead.mask_loss`` with each positive RoI's mask loss
        weighted by its gt's weight (and the image's coefficient in an
        exact pass)."""
        with self._weighted_mask_loss(self.mask_head, sampling_results):
            return super().mask_loss(x, sampling_results, bbox_feats,
                                     batch_gt_instances)
