"""RetinaNet head whose positive anchors carry their gt's LossMix weight."""
from mmdet.models.dense_heads import RetinaHead
from mmdet.registry import MODELS

from .lossmix_dense_head_mixin import LossMixAnchorHeadMixin


@MODELS.register_module()
class LossMixRetinaHead(LossMixAnchorHeadMixin, RetinaHead):
    """``RetinaHead`` trained with LossMix's per-instance loss weights.

    ``RetinaHead`` is an ``AnchorHead``: its focal and box losses read the
    per-anchor label and bbox weights of ``_get_targets_single``, so only
    those change (:class:`LossMixAnchorHeadMixin`). A positive anchor's
    label weight is multiplied by its gt's ``loss_weights`` (``mix_cls``),
    its bbox weights by the same (``mix_reg``) and by ``reg_weights``;
    negatives and the normaliser (the positive count) are unchanged.

    ``exact=True``: Eq. 14 term by term, the anchors assigned once to the
    own image's gts and once to the partner's
    (:func:`~lossmix_mm.models.utils.loss_by_terms`).

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their box-regression loss. Defaults to True.
        exact (bool): Eq. 14 term by term. Defaults to False.
        **kwargs: ``RetinaHead`` arguments.
    """
