"""Deformable DETR head whose matched queries carry their gt's weight."""
from mmdet.models.dense_heads import DeformableDETRHead
from mmdet.registry import MODELS
from .lossmix_detr_head import LossMixQueryTargetsMixin


@MODELS.register_module()
class LossMixDeformableDETRHead(LossMixQueryTargetsMixin, DeformableDETRHead):
    """``DeformableDETRHead`` trained with LossMix's per-instance weights.

    Every decoder layer's matched queries take their gt's ``loss_weights``
    (classification if ``mix_cls``, L1 and GIoU if ``mix_reg``) and
    ``reg_weights`` (box terms), see :class:`LossMixQueryTargetsMixin`.
    With ``as_two_stage=True`` the encoder proposals are matched to a
    deep copy of the gts whose labels are all set to 0
    (``DeformableDETRHead.loss_by_feat``); the copy keeps
    ``loss_weights`` and ``reg_weights``, so a proposal matched to a gt
    takes that gt's weights too. Unmatched queries and normalisers are
    unchanged: without weights (or all ones) every loss equals the stock
    head's exactly. ``exact`` (Eq. 14 with one assignment per source image)
    is not supported.

    Args:
        mix_cls (bool): weight the classification loss. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        *args, **kwargs: ``DeformableDETRHead`` arguments.
    """

    reads_loss_weights = True
