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
    label weight is multiplied by ``gt_instances.loss_weights`` of its gt
    (``mix_cls``), its bbox weights by the same (``mix_reg``) and by
    ``gt_instances.reg_weights`` (always); negatives and the normaliser (the
    samplings' ``avg_factor``: the positive count with RetinaNet's
    ``PseudoSampler``) are unchanged. Without ``loss_weights`` and
    ``reg_weights`` (or with all-ones weights) every loss equals
    ``RetinaHead``'s.

    With ``exact=True`` the loss is Eq. 14 to the letter: the anchors are
    assigned once to the own image's gts (``mix_group`` 0) and once to the
    partner's, the stock loss of each pass is weighted per image by its
    coefficient and the passes are added. With ``PseudoSampler`` a pass
    normalises by its own positive count, so a one-image batch gets
    lam * L(y_i) + (1 - lam) * L(y_j) exactly; in a larger batch images
    weigh by their positive counts within a pass, as in stock mmdet.

    Args:
        mix_cls (bool): weight the focal loss of the positives. Defaults to
            True.
        mix_reg (bool): weight their box-regression loss. Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``RetinaHead`` arguments.
    """
