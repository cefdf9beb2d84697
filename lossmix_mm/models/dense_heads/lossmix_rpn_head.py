"""RPN head whose positive anchors carry their gt's LossMix weight."""
from typing import List, Union

from torch import Tensor

from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import EXACT_MODES, resolve_exact_mode
from .lossmix_dense_head_mixin import LossMixAnchorHeadMixin


@MODELS.register_module()
class LossMixRPNHead(LossMixAnchorHeadMixin, RPNHead):
    """``RPNHead`` trained with LossMix's per-instance loss weights.

    Only target building changes (:class:`LossMixAnchorHeadMixin`, shared
    with ``LossMixRetinaHead``): the classification and regression weights
    of a positive anchor are multiplied by ``gt_instances.loss_weights`` of
    the gt it is assigned to; negatives and the loss normaliser are untouched.
    Independently of ``mix_cls`` / ``mix_reg``, the regression weights of a
    positive anchor are multiplied by ``gt_instances.reg_weights`` of its gt
    (0 allowed: the box loss is normalised by the samplings' ``avg_factor``,
    not by the weights). Without ``loss_weights`` and ``reg_weights`` (or
    with all-ones weights) every loss equals ``RPNHead``'s.

    Exact Eq. 14, L = c_i * L(y_i) + c_j * L(y_j) per image (c_i, c_j =
    lam, 1 - lam for LossMix; by the metainfo ``mix_mode`` and
    ``mix_lambda``, see :func:`~lossmix_mm.models.utils.group_coefficients`),
    y_i the own image's gts (``mix_group`` 0), y_j the partner's (1):

    - ``exact=True`` / ``'single_pass'``
      (:meth:`~LossMixAnchorHeadMixin._loss_single_pass`): the anchors are
      assigned and sampled ONCE against the gts of both terms (one
      assignment of every anchor, as the default weighting); the assigner
      then labels the sampled anchors against y_i and against y_j and each
      term is the stock loss of its label set on those anchors, normalised
      by its own count of them (positives + negatives with
      ``RandomSampler``). Both images' positives share the sampler's
      positive quota (128 of 256 in mmdet's Faster R-CNN), and a gt's
      low-quality match is its best anchor among the sampled ones.
    - ``exact='two_pass'`` (:meth:`~LossMixDenseHeadMixin._loss_by_passes`):
      the definition of the earlier versions: the stock loss twice, each
      pass assigning and sampling every anchor against its own label set.
      Exact normaliser when every image's ``SamplingResult.avg_factor`` is
      the same (see :func:`~lossmix_mm.models.utils.mix_group_passes`).

    Both weight each image's term by its coefficient and scale a term by
    its images' share of the batch. With a sampler that takes every anchor
    and no ignore band between the assigner's thresholds the two modes give
    the same loss.

    Args:
        mix_cls (bool): weight the objectness loss. Defaults to True.
        mix_reg (bool): weight the box-regression loss. Defaults to True.
        exact (bool | str): False, True (= ``'single_pass'``),
            ``'single_pass'`` or ``'two_pass'``. Defaults to False.
        **kwargs: ``RPNHead`` arguments.
    """

    #: what ``exact`` may name; ``exact=True`` is the first
    exact_modes = EXACT_MODES

    def __init__(self, *args, exact: Union[bool, str] = False,
                 **kwargs) -> None:
        exact_mode = resolve_exact_mode(exact, self.exact_modes,
                                        f'{type(self).__name__} exact')
        super().__init__(*args, exact=exact_mode is not None, **kwargs)
        self.exact_mode = exact_mode

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """``RPNHead.loss_by_feat``; in ``'two_pass'`` exact mode the sum
        over the passes, in ``'single_pass'`` one shared sample."""
        if self.exact_mode != 'single_pass':
            return super().loss_by_feat(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        losses = self._loss_single_pass(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        return dict(loss_rpn_cls=losses['loss_cls'],
                    loss_rpn_bbox=losses['loss_bbox'])
