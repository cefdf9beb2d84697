"""Eq. 14 on one shared sample of anchors (the RPN's ``'single_pass'``).

With a sampler that keeps a few anchors at random (mmdet's Faster R-CNN:
256 of thousands), assigning and sampling every anchor once per label set
costs a second assignment of all anchors. The single pass assigns and
samples once, against both label sets' boxes, and computes each term's
stock loss on that shared sample. Where the sampler takes every candidate
there is nothing random to share, and the head takes the term-by-term loop
instead (see ``LossMixRPNHead.loss_by_feat``).
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import torch
from mmdet.models.dense_heads import AnchorHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.models.task_modules.samplers import (PseudoSampler, RandomSampler,
                                                SamplingResult)
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList, OptInstanceList
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import GroupPass, mix_group_passes, sampling_gt_instances

# one image's shared sample: anchor indices (S, ), anchors (S, 4), and
# whether its avg_factor counts negatives
SharedSample = Tuple[Tensor, Tensor, bool]


def samples_every_candidate(sampler, num_candidates: int) -> bool:
    """Whether ``sampler`` keeps every positive and negative candidate of
    an image with up to ``num_candidates`` of them (nothing random).

    Args:
        sampler: an mmdet sampler.
        num_candidates (int): the most candidates (anchors) of an image.

    Returns:
        bool: True for ``PseudoSampler`` and for a ``RandomSampler`` whose
        positive quota holds every candidate and whose negatives are not
        capped by ``neg_pos_ub``.
    """
    if isinstance(sampler, PseudoSampler):
        return True
    return (isinstance(sampler, RandomSampler) and sampler.neg_pos_ub < 0
            and int(sampler.num * sampler.pos_fraction) >= num_candidates)


class RelabelSampler(PseudoSampler):
    """Keeps every anchor an assignment labels positive or negative.

    Those the assigner ignores drop out, as a sampler drops ignored
    candidates. ``avg_factor`` counts negatives as the shared sample's does
    (``RandomSampler``: positives + negatives; ``PseudoSampler``: positives).

    Args:
        avg_factor_with_neg (bool): that of the shared sample.
    """

    def __init__(self, avg_factor_with_neg: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.avg_factor_with_neg = avg_factor_with_neg

    def sample(self, *args, **kwargs) -> SamplingResult:
        """``PseudoSampler.sample`` with the shared sample's rule."""
        result = super().sample(*args, **kwargs)
        result.avg_factor_with_neg = self.avg_factor_with_neg
        result.avg_factor = result.num_pos + result.num_neg \
            if self.avg_factor_with_neg else result.num_pos
        return result


class RPNSinglePassMixin:
    """The single-pass exact loss of an ``AnchorHead`` (LossMix mixin).

    1. Every inside anchor of an image is assigned and sampled ONCE (the
       head's assigner and sampler) against the gts of every term the image
       has (:meth:`_shared_anchor_sample`).
    2. Each term labels the S sampled anchors, and only those, against its
       own gts (:class:`RelabelSampler`): the stock targets of that label
       set on that sample, times the image's coefficient
       (:meth:`_term_targets`).
    3. Every term's rows go through the stock ``loss_by_feat_single`` in
       one call, each term normalised by its own ``avg_factor`` sum.
    """

    def _loss_single_pass(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """Eq. 14 on one shared sample of anchors per image.

        Returns:
            dict: ``loss_cls`` and ``loss_bbox``, lists of one tensor each.
        """
        anchor_list, valid_flag_list = self.get_anchors(
            [score.size()[-2:] for score in cls_scores],
            batch_img_metas,
            device=cls_scores[0].device)
        ignores = batch_gt_instances_ignore or [None] * len(batch_img_metas)
        terms = mix_group_passes(batch_gt_instances, batch_img_metas)
        if len(terms) == 1 and terms[0].loss_scale == 1.0 and all(
                coeff == 1.0 for coeff in terms[0].coeffs):  # nothing mixed
            return AnchorHead.loss_by_feat(self, cls_scores, bbox_preds,
                                           terms[0].gt_instances,
                                           batch_img_metas, ignores)
        shared = [
            self._shared_anchor_sample(
                cat_boxes(anchor_list[i]), torch.cat(valid_flag_list[i]),
                sampling_gt_instances(
                    gts, [term.group for term in terms if i in term.img_inds]),
                batch_img_metas[i], ignores[i])
            for i, gts in enumerate(batch_gt_instances)
        ]
        num_anchors = sum(len(anchors) for anchors in anchor_list[0])
        rows, targets, ref_factor = [], [], None
        for term in terms:
            term_rows, term_targets, factor = self._term_targets(
                term, shared, batch_img_metas, ignores, num_anchors)
            ref_factor = factor if ref_factor is None else ref_factor
            scale = term.loss_scale * ref_factor / factor
            for each in term_targets:
                if scale != 1.0:
                    each[2], each[4] = each[2] * scale, each[4] * scale
            rows += term_rows
            targets += term_targets
        rows = torch.cat(rows)
        anchors, labels, label_weights, bbox_targets, bbox_weights = [
            torch.cat(field)[None] for field in zip(*targets)
        ]
        loss_cls, loss_bbox = self.loss_by_feat_single(
            self._flat_rows(cls_scores, rows, self.cls_out_channels),
            self._flat_rows(bbox_preds, rows, self.bbox_coder.encode_size),
            anchors,
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            avg_factor=ref_factor)
        return dict(loss_cls=[loss_cls], loss_bbox=[loss_bbox])

    def _term_targets(self, term: GroupPass, shared: List[SharedSample],
                      batch_img_metas: List[dict],
                      ignores: List[Optional[InstanceData]],
                      num_anchors: int) -> Tuple[list, list, float]:
        """Step 2 for one term: its targets on each image's shared sample.

        Returns:
            tuple[list, list, float]: per image the rows (flat anchor index
            over the batch), the targets ``[anchors, labels, label_weights,
            bbox_targets, bbox_weights]`` and the term's ``avg_factor`` sum.
        """
        rows, targets, factor = [], [], 0
        for i, gts in zip(term.img_inds, term.gt_instances):
            anchor_inds, anchors, with_neg = shared[i]
            with self._sampler_swapped(RelabelSampler(with_neg)):
                (labels, label_weights, bbox_targets, bbox_weights, _, _,
                 result) = self._get_targets_single(
                     anchors,
                     anchors.new_ones(len(anchors), dtype=torch.bool),
                     gts,
                     batch_img_metas[i],
                     ignores[i],
                     unmap_outputs=False)
            factor += result.avg_factor
            rows.append(i * num_anchors + anchor_inds)
            targets.append(
                [anchors, labels, label_weights, bbox_targets, bbox_weights])
        return rows, targets, factor

    def _shared_anchor_sample(
            self, flat_anchors: Tensor, valid_flags: Tensor,
            gt_instances: InstanceData, img_meta: dict,
            gt_instances_ignore: Optional[InstanceData]) -> SharedSample:
        """Step 1 for one image: the stock assignment and sampling of its
        inside anchors against ``gt_instances``.

        Returns:
            tuple[Tensor, Tensor, bool]: the (S, ) indices of the sampled
            anchors among all A, their (S, 4) boxes (positives, then
            negatives) and the sample's ``avg_factor_with_neg``.
        """
        inside_flags = anchor_inside_flags(flat_anchors, valid_flags,
                                           img_meta['img_shape'][:2],
                                           self.train_cfg['allowed_border'])
        if not inside_flags.any():
            raise ValueError(
                'There is no valid anchor inside the image boundary of '
                f'image {img_meta.get("img_path", img_meta.get("img_id"))!r}'
                f' (img_shape {img_meta["img_shape"]}): check the image and '
                'anchor sizes, or set allowed_border=-1')
        anchors = flat_anchors[inside_flags]
        pred_instances = InstanceData(priors=anchors)
        assign_result = self.assigner.assign(pred_instances, gt_instances,
                                             gt_instances_ignore)
        result = self.sampler.sample(assign_result, pred_instances,
                                     gt_instances)
        if result.pos_is_gt.any():
            raise ValueError(
                'the exact single pass samples anchors, not gt boxes: set '
                'add_gt_as_proposals=False in the sampler of '
                f'{type(self).__name__}\'s train_cfg')
        local = torch.cat([result.pos_inds, result.neg_inds])
        inside_inds = torch.nonzero(inside_flags, as_tuple=False).view(-1)
        return (inside_inds[local], anchors[local], result.avg_factor_with_neg)

    @contextmanager
    def _sampler_swapped(self, sampler) -> Iterator[None]:
        """``self.sampler`` is ``sampler`` inside the block."""
        stock, self.sampler = self.sampler, sampler
        try:
            yield
        finally:
            self.sampler = stock

    @staticmethod
    def _flat_rows(level_outputs: List[Tensor], rows: Tensor,
                   channels: int) -> Tensor:
        """Rows of a head output flattened the stock way (images, levels,
        H, W, anchors), shaped as one level of one image with R positions:
        (1, channels, 1, R), which ``loss_by_feat_single`` reads back as
        (R, channels)."""
        num_imgs = level_outputs[0].size(0)
        flat = torch.cat([
            out.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels)
            for out in level_outputs
        ],
                         dim=1).reshape(-1, channels)
        return flat[rows].t().reshape(1, channels, 1, -1)
