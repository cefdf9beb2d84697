"""DINO head whose matched and denoising queries carry their gt's weight."""
from typing import Dict, Optional, Union

import torch
from mmdet.models.dense_heads import DINOHead
from mmdet.registry import MODELS
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import times
from .lossmix_detr_head import LossMixQueryTargetsMixin


def denoising_source_gt_inds(num_queries: int,
                             queries_per_group: int,
                             pos_inds: Tensor,
                             neg_inds: Optional[Tensor] = None) -> Tensor:
    """The gt each denoising query of an image was made from.

    ``CdnQueryGenerator`` lays out every group of ``2 * M`` queries (M: the
    batch's most gts in one image) as M positive queries, query t made from
    gt t, then M negative queries, query M + t made from gt t; rows of gts
    an image lacks are padding.

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

    - Matching queries and encoder proposals, every decoder layer: a query
      matched to a gt takes its weights (:class:`LossMixQueryTargetsMixin`).
    - Denoising queries, every decoder layer: a query takes the weights of
      the gt it was made from (:func:`denoising_source_gt_inds`); a negative
      one (a far-noised copy of gt g, trained as background) exists only
      because g does, so with ``mix_dn_negatives`` its classification
      weight is g's too.

    Unmatched queries, padding and every normaliser are unchanged. ``exact``
    is refused: the denoising queries are built from both images' boxes
    before the head, so Eq. 14 would need one decoder pass per label set.

    Args:
        mix_cls (bool): weight the classification losses. Defaults to True.
        mix_reg (bool): weight the box losses. Defaults to True.
        mix_dn_negatives (bool): negative denoising queries take their gt's
            classification weight. Defaults to True.
        **kwargs: ``DINOHead`` arguments.
    """

    def __init__(self,
                 *args,
                 mix_dn_negatives: bool = True,
                 exact: Union[bool, str] = False,
                 **kwargs) -> None:
        if exact is not False:
            raise ValueError(
                f'{type(self).__name__} exact must be False, got {exact!r}: '
                "DINO's denoising queries are made from both images' boxes "
                'before the head, so Eq. 14 term by term needs one decoder '
                'pass per label set')
        super().__init__(*args, **kwargs)
        self.mix_dn_negatives = mix_dn_negatives

    def _get_dn_targets_single(self, gt_instances: InstanceData,
                               img_meta: dict, dn_meta: Dict[str,
                                                             int]) -> tuple:
        """``DINOHead._get_dn_targets_single`` with weighted queries.

        Returns:
            tuple: the stock ``(labels, label_weights, bbox_targets,
            bbox_weights, pos_inds, neg_inds)``, weights times the
            multipliers of each query's source gt.
        """
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds) = super()._get_dn_targets_single(gt_instances, img_meta,
                                                    dn_meta)
        num_queries = dn_meta['num_denoising_queries']
        source = denoising_source_gt_inds(
            num_queries, int(num_queries / dn_meta['num_denoising_groups']),
            pos_inds, neg_inds if self.mix_dn_negatives else None)
        weights = self._sample_weights(source, gt_instances, img_meta)
        return (labels, times(label_weights, weights.cls), bbox_targets,
                times(bbox_weights, weights.reg), pos_inds, neg_inds)
