"""RPN head whose positive anchors carry their gt's LossMix weight."""
from typing import List

from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from ..utils import EXACT_MODES
from .lossmix_dense_head_mixin import LossMixAnchorHeadMixin
from .rpn_single_pass import RPNSinglePassMixin, samples_every_candidate


@MODELS.register_module()
class LossMixRPNHead(LossMixAnchorHeadMixin, RPNSinglePassMixin, RPNHead):
    """``RPNHead`` trained with LossMix's per-instance loss weights.

    Only target building changes (:class:`LossMixAnchorHeadMixin`): a
    positive anchor's label and bbox weights are multiplied by its gt's
    ``loss_weights`` (``mix_cls`` / ``mix_reg``), its bbox weights also by
    ``reg_weights``; negatives and the normaliser are untouched. Without
    weights (or all ones) every loss equals ``RPNHead``'s.

    Exact Eq. 14, c_i * L(y_i) + c_j * L(y_j) per image:

    - ``'two_pass'``: the stock loss once per label set
      (:func:`~lossmix_mm.models.utils.loss_by_terms`).
    - ``exact=True`` / ``'single_pass'``: where the sampler keeps a random
      share of the anchors, one shared sample for both terms
      (:class:`~.rpn_single_pass.RPNSinglePassMixin`); where it takes every
      candidate (``PseudoSampler``), the same as ``'two_pass'``, which is
      then Eq. 14 exactly, ignore bands included.

    Args:
        mix_cls (bool): weight the objectness loss. Defaults to True.
        mix_reg (bool): weight the box-regression loss. Defaults to True.
        exact (bool | str): False, True (= ``'single_pass'``),
            ``'single_pass'`` or ``'two_pass'``. Defaults to False.
        **kwargs: ``RPNHead`` arguments.
    """

    exact_modes = EXACT_MODES

    def loss_by_feat(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """``RPNHead.loss_by_feat``; in exact mode the term-by-term loss or,
        for ``'single_pass'`` with a random sampler, one shared sample."""
        num_anchors = sum(self.num_base_priors * score[0, 0].numel()
                          for score in cls_scores)
        if self.exact_mode != 'single_pass' or samples_every_candidate(
                self.sampler, num_anchors):
            return super().loss_by_feat(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        losses = self._loss_single_pass(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        return dict(
            loss_rpn_cls=losses['loss_cls'], loss_rpn_bbox=losses['loss_bbox'])
