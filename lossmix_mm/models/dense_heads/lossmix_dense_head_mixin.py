"""What the LossMix one-stage heads share: arguments, multipliers, Eq. 14.

Every LossMix dense head finds, per image, the gt each sample (anchor or
point) is assigned to (-1 for negatives) and turns it into three per-sample
multipliers (:meth:`LossMixDenseHeadMixin._sample_multipliers`):
classification, box regression and box quality (centerness); how they reach
the stock losses depends on the head. :class:`LossMixAnchorHeadMixin` is the
whole adapter for heads whose losses read ``AnchorHead``'s target weights
(``RPNHead``, ``RetinaHead``).
"""
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import AnchorHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.models.task_modules.samplers import PseudoSampler, SamplingResult
from mmdet.models.utils import unmap
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import InstanceList, OptInstanceList
from ..utils import (assigned_sample_weights, cls_reg_sample_weights,
                     get_gt_loss_weights, mix_group_passes,
                     sampling_gt_instances, sum_pass_losses)

Multipliers = Tuple[Optional[Tensor], Optional[Tensor], Optional[Tensor]]


def anchor_assigned_gt_inds(sampling_result: SamplingResult,
                            inside_flags: Tensor,
                            unmap_outputs: bool = True) -> Tensor:
    """The gt each anchor is assigned to, in the layout of the targets.

    mmdet's anchor heads assign the anchors inside the image only
    (``anchor_inside_flags``): ``sampling_result.pos_inds`` index those, and
    the targets are unmapped to all anchors when ``unmap_outputs`` is True.

    Args:
        sampling_result (SamplingResult): the sampling of one image.
        inside_flags (Tensor): (A, ) bool, the anchors that were assigned
            (A_in of them).
        unmap_outputs (bool): return all A anchors (else the A_in inside).

    Returns:
        Tensor: (A, ) or (A_in, ) long, the positive anchors' gt index, -1
        for the others.
    """
    gt_inds = inside_flags.new_full((int(inside_flags.sum()), ), -1,
                                    dtype=torch.long)
    gt_inds[sampling_result.pos_inds] = \
        sampling_result.pos_assigned_gt_inds.long()
    if unmap_outputs:
        gt_inds = unmap(gt_inds, inside_flags.numel(), inside_flags, fill=-1)
    return gt_inds


def ones_to_none(weights: Optional[Tensor]) -> Optional[Tensor]:
    """None when every weight is 1 (the stock path applies), else as is."""
    if weights is None or bool((weights == 1).all()):
        return None
    return weights


class LossMixDenseHeadMixin:
    """Arguments and shared steps of the LossMix one-stage heads.

    Put before the stock head in the bases. A positive sample's loss terms
    are multiplied by ``gt_instances.loss_weights`` of its gt (those selected
    by ``mix_cls`` / ``mix_reg``; the box-quality term, centerness, goes with
    regression) and its box-regression term, not the quality term, by
    ``gt_instances.reg_weights``; negatives and the normalisers are
    unchanged.

    Args:
        mix_cls (bool): weight the classification loss. Defaults to True.
        mix_reg (bool): weight the box regression and quality losses.
            Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image (see
            :meth:`_loss_by_passes`). Defaults to False.
    """

    reads_loss_weights = True  # see lossmix_mm/engine/union_guard.py

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 exact: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if exact and not (mix_cls and mix_reg):
            raise ValueError('exact=True mixes every loss term (Eq. 14): it '
                             'needs mix_cls=True and mix_reg=True, got '
                             f'mix_cls={mix_cls}, mix_reg={mix_reg}')
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        self.exact = exact

    @staticmethod
    def _is_weighted(gt_instances: InstanceData) -> bool:
        """Whether an image's gts may weigh other than 1 (loss or
        regression weights present, or an exact-mode ``mix_coeff``)."""
        return ('loss_weights' in gt_instances
                or 'reg_weights' in gt_instances
                or gt_instances.metainfo.get('mix_coeff', 1.0) != 1.0)

    def _sample_multipliers(self, gt_inds: Tensor,
                            gt_instances: InstanceData) -> Multipliers:
        """Classification, regression and quality multipliers of one image.

        Args:
            gt_inds (Tensor): (S, ) long, the gt each sample is assigned to,
                -1 for negatives.
            gt_instances (InstanceData): the image's gts, optional
                ``loss_weights`` / ``reg_weights`` and, in an exact-mode
                pass, metainfo ``mix_coeff`` (multiplies every sample).

        Returns:
            tuple[Tensor or None, ...]: three (S, ) float multipliers, None
            where all are 1 (the stock path).
        """
        cls_w, reg_w = cls_reg_sample_weights(gt_inds, gt_instances,
                                              self.mix_cls, self.mix_reg)
        quality_w = assigned_sample_weights(
            gt_inds,
            get_gt_loss_weights(gt_instances) if self.mix_reg else None)
        multipliers = (cls_w, reg_w, quality_w)
        coeff = float(gt_instances.metainfo.get('mix_coeff', 1.0))
        if coeff != 1.0:
            multipliers = tuple(
                coeff * (torch.ones(gt_inds.shape, device=gt_inds.device)
                         if w is None else w) for w in multipliers)
        return tuple(ones_to_none(w) for w in multipliers)

    def _pack_label_weights(self, label_weights: Tensor,
                            extra: Sequence[Optional[Tensor]]) -> Tensor:
        """Label weights and K multipliers in one (S, 1 + K) tensor.

        For heads whose ``loss_by_feat`` hands only the label weights of
        ``get_targets`` on to ``loss_by_feat_single`` (ATSS, RTMDet): the
        packed weights travel through the stock per-level split
        (``images_to_levels``) and :meth:`_unpack_label_weights` takes them
        apart again. Every image must pack the same K.

        Args:
            label_weights (Tensor): (S, ) classification weights.
            extra (Sequence[Tensor or None]): K (S, ) multipliers; None
                means all ones.

        Returns:
            Tensor: (S, 1 + K) float.
        """
        columns = [label_weights] + [
            torch.ones_like(label_weights) if w is None else
            w.to(label_weights) for w in extra
        ]
        return torch.stack(columns, dim=-1)

    def _unpack_label_weights(
            self, labels: Tensor,
            packed: Tensor) -> Tuple[Tensor, List[Optional[Tensor]]]:
        """Undo :meth:`_pack_label_weights` for one level.

        Args:
            labels (Tensor): (B, A_l) labels, ``num_classes`` for background.
            packed (Tensor): (B, A_l, 1 + K).

        Returns:
            tuple[Tensor, list[Tensor or None]]: the (B, A_l) label weights
            and K multipliers of the positives, (P, ) each in the order of
            ``((labels >= 0) & (labels < num_classes)).nonzero()`` over the
            flattened level (the stock heads' ``pos_inds``); None where all
            are 1.
        """
        flat_labels = labels.reshape(-1)
        pos = (flat_labels >= 0) & (flat_labels < self.num_classes)
        extra = [
            ones_to_none(packed[..., k].reshape(-1)[pos])
            for k in range(1, packed.size(-1))
        ]
        return packed[..., 0], extra

    def _anchor_gt_inds(self, flat_anchors: Tensor, valid_flags: Tensor,
                        img_meta: dict, sampling_result: SamplingResult,
                        unmap_outputs: bool) -> Tensor:
        """:func:`anchor_assigned_gt_inds` with the head's inside flags."""
        inside_flags = anchor_inside_flags(flat_anchors, valid_flags,
                                           img_meta['img_shape'][:2],
                                           self.train_cfg['allowed_border'])
        return anchor_assigned_gt_inds(sampling_result, inside_flags,
                                       unmap_outputs)

    def _loss_by_passes(self, loss_fn: Callable[..., dict],
                        outs: Sequence[List[Tensor]],
                        batch_gt_instances: InstanceList,
                        batch_img_metas: List[dict],
                        batch_gt_instances_ignore: OptInstanceList) -> dict:
        """Eq. 14: ``loss_fn`` once per pass of :func:`mix_group_passes`
        (own gts, then the partner's, each image's targets scaled by its
        ``mix_coeff``), times the pass's ``loss_scale``, added.

        Args:
            loss_fn (Callable): the head's (non-exact) ``loss_by_feat``.
            outs (Sequence[list[Tensor]]): the head outputs, per level
                (B, ...) tensors.
            batch_gt_instances (InstanceList): B sets of gts.
            batch_img_metas (list[dict]): B image metas.
            batch_gt_instances_ignore (InstanceList, optional): B or None.

        Returns:
            dict: the summed losses.
        """
        passes = mix_group_passes(batch_gt_instances, batch_img_metas)
        pass_losses = []
        for group_pass in passes:
            inds = group_pass.img_inds
            ignore = None if batch_gt_instances_ignore is None else [
                batch_gt_instances_ignore[i] for i in inds
            ]
            if len(inds) == len(batch_img_metas):  # every image: no copy
                pass_outs = outs
            else:
                pass_outs = [[level[inds] for level in out] for out in outs]
            pass_losses.append(
                loss_fn(*pass_outs, group_pass.gt_instances,
                        [batch_img_metas[i] for i in inds], ignore))
        return sum_pass_losses(pass_losses,
                               [each.loss_scale for each in passes])


class RelabelSampler(PseudoSampler):
    """Keeps every anchor an assignment labels positive or negative.

    The second step of the single-pass exact mode: the anchors of the shared
    sample, assigned to one label set by the head's assigner, all stay in
    the term (those the assigner ignores drop out, as a sampler drops
    ignored candidates). ``avg_factor`` counts negatives as the shared
    sample's does (``RandomSampler``: positives + negatives), where
    ``PseudoSampler`` counts positives only.

    Args:
        avg_factor_with_neg (bool): that of the shared sample.
    """

    def __init__(self, avg_factor_with_neg: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.avg_factor_with_neg = avg_factor_with_neg

    def sample(self, *args, **kwargs) -> SamplingResult:
        """``PseudoSampler.sample`` with the shared sample's
        ``avg_factor`` rule."""
        result = super().sample(*args, **kwargs)
        result.avg_factor_with_neg = self.avg_factor_with_neg
        result.avg_factor = result.num_pos + result.num_neg \
            if self.avg_factor_with_neg else result.num_pos
        return result


class LossMixAnchorHeadMixin(LossMixDenseHeadMixin):
    """LossMix for heads whose losses read ``AnchorHead``'s label and bbox
    weights (``AnchorHead.loss_by_feat_single``): only the target weights
    change, so every stock loss applies them.

    Exact mode by passes (``exact=True`` here, ``'two_pass'`` in
    ``LossMixRPNHead``) costs a second assignment, not a second forward;
    its normaliser is exact when every image has the same
    ``SamplingResult.avg_factor`` in every pass (see
    :func:`~lossmix_mm.models.utils.mix_group_passes`).
    :meth:`_loss_single_pass` needs one assignment: it pays where the
    sampler keeps a small share of the anchors (the RPN's 256), not with
    ``PseudoSampler`` (RetinaNet), which keeps them all.
    """

    def loss_by_feat(self,
                     cls_scores: List[Tensor],
                     bbox_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """The stock ``loss_by_feat``; in exact mode the sum over the passes
        of :meth:`_loss_by_passes`."""
        if not self.exact:
            return super().loss_by_feat(cls_scores, bbox_preds,
                                        batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore)
        return self._loss_by_passes(super().loss_by_feat,
                                    (cls_scores, bbox_preds),
                                    batch_gt_instances, batch_img_metas,
                                    batch_gt_instances_ignore)

    def _loss_single_pass(
            self,
            cls_scores: List[Tensor],
            bbox_preds: List[Tensor],
            batch_gt_instances: InstanceList,
            batch_img_metas: List[dict],
            batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """Eq. 14 on one shared sample of anchors per image.

        1. The anchors inside an image are assigned (the head's assigner)
           and sampled (its sampler) ONCE, against the gts of every term
           the image has (:func:`~lossmix_mm.models.utils.
           sampling_gt_instances`): one assignment of all anchors, as the
           default weighting does.
        2. Each term labels the S sampled anchors, and only those, against
           its own gts (the assigner again, on S anchors;
           :class:`RelabelSampler`): the stock targets of that label set on
           that sample, times the image's coefficient (and each box's
           ``reg_weights``), by ``_get_targets_single``.
        3. The rows of every term and image (the predictions of their
           anchors, gathered) go through the stock ``loss_by_feat_single``
           in ONE call, as one level of R rows: a term's rows are scaled by
           its ``loss_scale`` times the first term's normaliser over its
           own (the sum of its images' ``SamplingResult.avg_factor``), the
           call normalises by the first term's, so each term is normalised
           by its own as the stock loss would.

        With a sampler that takes every anchor and assigner thresholds
        without an ignore band, the shared sample is every anchor and the
        loss equals the two-pass one (:meth:`_loss_by_passes`). A batch
        without a mixed image (one term, coefficient 1 everywhere) takes
        ``AnchorHead.loss_by_feat`` on the own boxes: the stock loss, bit
        for bit.

        Args:
            cls_scores (list[Tensor]): per level (B, A_l * C, H_l, W_l).
            bbox_preds (list[Tensor]): per level (B, A_l * D, H_l, W_l).
            batch_gt_instances (InstanceList): B sets of gts.
            batch_img_metas (list[dict]): B image metas.
            batch_gt_instances_ignore (InstanceList, optional): B or None.

        Returns:
            dict: ``loss_cls`` and ``loss_bbox``, each a list of one tensor
            (the stock head returns one per level; only their sum counts).
        """
        num_imgs = len(batch_img_metas)
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            [score.size()[-2:] for score in cls_scores], batch_img_metas,
            device=device)
        if batch_gt_instances_ignore is None:
            batch_gt_instances_ignore = [None] * num_imgs
        terms = mix_group_passes(batch_gt_instances, batch_img_metas)
        if len(terms) == 1 and terms[0].loss_scale == 1.0 and all(
                coeff == 1.0 for coeff in terms[0].coeffs):
            return AnchorHead.loss_by_feat(self, cls_scores, bbox_preds,
                                           terms[0].gt_instances,
                                           batch_img_metas,
                                           batch_gt_instances_ignore)
        shared = [
            self._shared_anchor_sample(
                cat_boxes(anchor_list[i]), torch.cat(valid_flag_list[i]),
                sampling_gt_instances(
                    batch_gt_instances[i],
                    [term.group for term in terms if i in term.img_inds]),
                batch_img_metas[i], batch_gt_instances_ignore[i])
            for i in range(num_imgs)
        ]
        num_anchors = sum(len(anchors) for anchors in anchor_list[0])
        rows, targets, ref_factor = [], [], None
        for term in terms:
            term_targets, factor = [], 0
            for i, gts in zip(term.img_inds, term.gt_instances):
                anchor_inds, anchors, with_neg = shared[i]
                with self._sampler_swapped(RelabelSampler(with_neg)):
                    (labels, label_weights, bbox_targets, bbox_weights, _,
                     _, result) = self._get_targets_single(
                         anchors, anchors.new_ones(len(anchors),
                                                   dtype=torch.bool), gts,
                         batch_img_metas[i], batch_gt_instances_ignore[i],
                         unmap_outputs=False)
                factor += result.avg_factor
                rows.append(i * num_anchors + anchor_inds)
                term_targets.append([
                    anchors, labels, label_weights, bbox_targets,
                    bbox_weights
                ])
            if ref_factor is None:
                ref_factor = factor
            scale = term.loss_scale * ref_factor / factor
            for each in term_targets:
                if scale != 1.0:
                    each[2] = each[2] * scale
                    each[4] = each[4] * scale
                targets.append(each)
        rows = torch.cat(rows)
        anchors, labels, label_weights, bbox_targets, bbox_weights = [
            torch.cat(field)[None] for field in zip(*targets)
        ]
        cls_rows = self._flat_rows(cls_scores, rows, self.cls_out_channels)
        bbox_rows = self._flat_rows(bbox_preds, rows,
                                    self.bbox_coder.encode_size)
        loss_cls, loss_bbox = self.loss_by_feat_single(
            cls_rows, bbox_rows, anchors, labels, label_weights,
            bbox_targets, bbox_weights, avg_factor=ref_factor)
        return dict(loss_cls=[loss_cls], loss_bbox=[loss_bbox])

    def _shared_anchor_sample(
            self, flat_anchors: Tensor, valid_flags: Tensor,
            gt_instances: InstanceData, img_meta: dict,
            gt_instances_ignore: Optional[InstanceData]
    ) -> Tuple[Tensor, Tensor, bool]:
        """Step 1 of :meth:`_loss_single_pass` for one image: the stock
        assignment and sampling of its inside anchors.

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
        return (inside_inds[local], anchors[local],
                result.avg_factor_with_neg)

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
        """The rows ``rows`` of a head output flattened the stock way
        (images, then levels, then H, W and anchors), shaped as a level
        of one image with R positions: (1, channels, 1, R), which
        ``loss_by_feat_single`` permutes back into (R, channels)."""
        num_imgs = level_outputs[0].size(0)
        flat = torch.cat([
            out.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels)
            for out in level_outputs
        ], dim=1).reshape(-1, channels)
        return flat[rows].t().reshape(1, channels, 1, -1)

    def _get_targets_single(self,
                            flat_anchors: Tensor,
                            valid_flags: Tensor,
                            gt_instances: InstanceData,
                            img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """``AnchorHead._get_targets_single`` with weighted positives.

        Returns the parent's tuple; ``label_weights`` (S, ) and
        ``bbox_weights`` (S, 4) are multiplied per anchor by the
        classification and regression multipliers of
        :meth:`_sample_multipliers` (the box-quality one is unused: these
        heads have no quality branch).
        """
        targets = super()._get_targets_single(flat_anchors, valid_flags,
                                              gt_instances, img_meta,
                                              gt_instances_ignore,
                                              unmap_outputs)
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds, sampling_result) = targets
        if not self._is_weighted(gt_instances):
            return targets
        if 'loss_weights' not in gt_instances and \
                'reg_weights' not in gt_instances:
            # an exact-mode pass without per-gt weights: every anchor's
            # weights times the image's coefficient, no gt lookup needed
            coeff = float(gt_instances.metainfo['mix_coeff'])
            return (labels, label_weights * coeff, bbox_targets,
                    bbox_weights * coeff, pos_inds, neg_inds,
                    sampling_result)
        gt_inds = self._anchor_gt_inds(flat_anchors, valid_flags, img_meta,
                                       sampling_result, unmap_outputs)
        cls_w, reg_w, _ = self._sample_multipliers(gt_inds, gt_instances)
        if cls_w is not None:
            label_weights = label_weights * cls_w.to(label_weights)
        if reg_w is not None:
            bbox_weights = bbox_weights * reg_w.to(bbox_weights)[:, None]
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
                neg_inds, sampling_result)
