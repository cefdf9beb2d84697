"""Standard RoI head whose positive RoIs carry their gt's LossMix weight."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample, SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from ..utils import (get_gt_loss_weights, get_gt_reg_weights,
                     mix_group_passes, sampled_loss_weights,
                     scale_target_weights, sum_pass_losses)


@MODELS.register_module()
class LossMixRoIHead(StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    The classification and regression target weights of a positive RoI are
    multiplied by ``gt_instances.loss_weights`` of the gt it is assigned to;
    negatives and the bbox head's normalisers are untouched (weights in
    (0, 1] keep mmdet's count of ``label_weights > 0``). Independently of
    ``mix_cls`` / ``mix_reg``, the regression weights of a positive RoI are
    multiplied by ``gt_instances.reg_weights`` of its gt (0 allowed:
    ``BBoxHead.loss`` divides the box loss by the number of sampled RoIs,
    not by the weights). Without ``loss_weights`` and ``reg_weights`` (or
    with all-ones weights) every loss equals ``StandardRoIHead``'s. Mask
    losses, if any, are not weighted.

    With ``exact=True`` the loss is Eq. 14 to the letter: proposals are
    assigned and sampled once against the own image's gts (``mix_group`` 0)
    and once against the partner's (1), the stock loss of each pass is
    weighted per image by its coefficient (lam / 1 - lam for LossMix, by the
    metainfo ``mix_mode`` and ``mix_lambda``, see
    :func:`~lossmix_mm.models.utils.group_coefficients`), scaled by the
    pass's share of the batch and the passes are added. It costs a second
    assignment and box-head pass, not a second backbone forward. The
    normaliser is exact when every image has the same number of sampled RoIs
    (see :func:`~lossmix_mm.models.utils.mix_group_passes`).

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        exact (bool): Eq. 14 with one assignment per source image.
            Defaults to False.
        **kwargs: ``StandardRoIHead`` arguments.
    """

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
        # per image of the batch being trained on: (gt loss weights or None,
        # gt reg weights or None, coefficient of the sample weights), set by
        # ``loss`` only for the duration of the call (``bbox_loss`` receives
        # no gts).
        self._sample_scales: Optional[List[Tuple[Optional[Tensor],
                                                 Optional[Tensor],
                                                 float]]] = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """``StandardRoIHead.loss`` with the batch's gt weights in reach;
        in exact mode the sum over the passes of :func:`mix_group_passes`,
        each scaled by its ``loss_scale``."""
        if not self.exact:
            scales = [(get_gt_loss_weights(sample.gt_instances),
                       get_gt_reg_weights(sample.gt_instances), 1.0)
                      for sample in batch_data_samples]
            return self._loss_with_scales(x, rpn_results_list,
                                          batch_data_samples, scales)
        passes = mix_group_passes(
            [sample.gt_instances for sample in batch_data_samples],
            [sample.metainfo for sample in batch_data_samples])
        pass_losses = []
        for group_pass in passes:
            inds = group_pass.img_inds
            samples = []
            for i, gts in zip(inds, group_pass.gt_instances):
                sample = DetDataSample(
                    metainfo=batch_data_samples[i].metainfo)
                sample.gt_instances = gts
                if 'ignored_instances' in batch_data_samples[i]:
                    sample.ignored_instances = \
                        batch_data_samples[i].ignored_instances
                samples.append(sample)
            pass_losses.append(
                self._loss_with_scales(
                    tuple(feat[inds] for feat in x),
                    [rpn_results_list[i].clone() for i in inds], samples,
                    [(None, get_gt_reg_weights(gts), coeff) for gts, coeff in
                     zip(group_pass.gt_instances, group_pass.coeffs)]))
        return sum_pass_losses(pass_losses,
                               [each.loss_scale for each in passes])

    def _loss_with_scales(self, x, rpn_results_list, batch_data_samples,
                          scales) -> dict:
        self._sample_scales = scales
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._sample_scales = None

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head loss with positive RoIs weighted by their gt's weights.

        Returns the same dict as ``StandardRoIHead.bbox_loss``.
        """
        scales = self._sample_scales
        if scales is not None and not (self.mix_cls or self.mix_reg):
            scales = [(None, r, c) for _, r, c in scales]
        if scales is None or all(w is None and r is None and c == 1.0
                                 for w, r, c in scales):
            return super().bbox_loss(x, sampling_results)

        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        labels, label_weights, bbox_targets, bbox_weights = \
            self.bbox_head.get_targets(sampling_results, self.train_cfg)
        roi_weights = torch.cat([
            sampled_loss_weights(res, w) * c
            for res, (w, _, c) in zip(sampling_results, scales)
        ])
        # negatives get 1, but their bbox_weights are 0 anyway
        roi_reg_weights = None if all(r is None for _, r, _ in scales) else \
            torch.cat([
                sampled_loss_weights(res, r)
                for res, (_, r, _) in zip(sampling_results, scales)
            ])
        label_weights, bbox_weights = scale_target_weights(
            label_weights, bbox_weights, roi_weights, self.mix_cls,
            self.mix_reg, roi_reg_weights)
        loss_bbox = self.bbox_head.loss(bbox_results['cls_score'],
                                        bbox_results['bbox_pred'], rois,
                                        labels, label_weights, bbox_targets,
                                        bbox_weights)
        bbox_results.update(loss_bbox=loss_bbox)
        return bbox_results
