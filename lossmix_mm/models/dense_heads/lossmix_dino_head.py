"""DINO head whose matched and denoising queries carry their gt's weight."""
from typing import Dict, Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import DINOHead
from mmdet.registry import MODELS
from .lossmix_detr_head import LossMixQueryTargetsMixin, scale_query_targets


def denoising_source_gt_inds(num_queries: int,
                             queries_per_group: int,
                             pos_inds: Tensor,
                             neg_inds: Optional[Tensor] = None) -> Tensor:
    """The gt each denoising query of an image was made from.

    ``CdnQueryGenerator`` lays out every group of ``2 * M`` queries (M: the
    batch's most gts in one image) as M positive queries, query t made from
    gt t, then M negative queries, query M + t made from gt t; rows of gts
    an image lacks are padding. ``DINOHead._get_dn_targets_single`` returns
    the indices of the real positive and negative queries.

    Args:
        num_queries (int): denoising queries of the image, Q.
        queries_per_group (int): ``2 * M``.
        pos_inds (Tensor): (P, ) long, positive denoising queries.
        neg_inds (Tensor, optional): (P, ) long, negative ones; None: they
            are not attributed to a gt.

    Returns:
        Tensor: (Q, ) long, source gt of each query, -1 for padding (and
        for negatives when ``neg_inds`` is None).
    """
    source = torch.full((num_queries, ),
                        -1,
                        dtype=torch.long,
                        device=pos_inds.device)
    if pos_inds.numel() == 0:  # no gts (queries_per_group may be 0)
        return source
    source[pos_inds] = pos_inds % queries_per_group
    if neg_inds is not None:
        source[neg_inds] = neg_inds % queries_per_group - \
            queries_per_group // 2
    return source


@MODELS.register_module()
class LossMixDINOHead(LossMixQueryTargetsMixin, DINOHead):
    """``DINOHead`` trained with LossMix's per-instance loss weights.

    - Matching queries, every decoder layer: a query matched to a gt takes
      its ``loss_weights`` / ``reg_weights``
      (:class:`LossMixQueryTargetsMixin`).
    - Encoder proposals: DINO matches them to the gts themselves (with
      their labels), through the same ``_get_targets_single``: a proposal
      matched to a gt takes its weights.
    - Denoising queries, every decoder layer: a query takes the weights of
      the gt it was made from (:func:`denoising_source_gt_inds`). A negative
      denoising query (a far-noised copy of gt g, trained as background)
      exists only because g does, so under Eq. 14 its background term
      belongs to g's image: with ``mix_dn_negatives`` (default) its
      classification weight is g's ``loss_weights`` too; its box weight is
      0 anyway.

    Unmatched queries, padding denoising queries and every normaliser are
    unchanged: without weights (or all ones) every loss equals
    ``DINOHead``'s exactly. ``exact`` (Eq. 14 with one assignment per
    source image) is not supported.

    Args:
        mix_cls (bool): weight the classification losses. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        mix_dn_negatives (bool): negative denoising queries take their gt's
            classification weight. Defaults to True.
        **kwargs: ``DINOHead`` arguments.
    """

    reads_loss_weights = True

    def __init__(self, *args, mix_dn_negatives: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mix_dn_negatives = mix_dn_negatives

    def _get_dn_targets_single(self, gt_instances: InstanceData,
                               img_meta: dict, dn_meta: Dict[str,
                                                             int]) -> tuple:
        """``DINOHead._get_dn_targets_single`` with weighted queries.

        Args:
            gt_instances (InstanceData): the image's N gts, optional
                ``loss_weights`` / ``reg_weights`` (N, ).
            img_meta (dict): the image's meta information.
            dn_meta (dict): ``num_denoising_queries`` and
                ``num_denoising_groups``.

        Returns:
            tuple: the stock ``(labels, label_weights, bbox_targets,
            bbox_weights, pos_inds, neg_inds)``, weights scaled by the
            source gt of each denoising query.
        """
        targets = super()._get_dn_targets_single(gt_instances, img_meta,
                                                 dn_meta)
        num_queries = dn_meta['num_denoising_queries']
        per_group = int(num_queries / dn_meta['num_denoising_groups'])
        pos_inds, neg_inds = targets[4], targets[5]
        source = denoising_source_gt_inds(
            num_queries, per_group, pos_inds,
            neg_inds if self.mix_dn_negatives else None)
        return scale_query_targets(targets, source, gt_instances, self.mix_cls,
                                   self.mix_reg)
