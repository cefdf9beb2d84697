"""RPN head whose positive anchors carry their gt's LossMix weight."""
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
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
