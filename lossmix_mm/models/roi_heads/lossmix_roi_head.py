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
from ..utils import (get_gt_loss_weights, mix_group_passes,
                     sampled_loss_weights, scale_target_weights,
                     sum_pass_losses)


@MODELS.register_module()
class LossMixRoIHead(StandardRoIHead):
    """``StandardRoIHead`` trained with LossMix's per-instance loss weights.

    The classification and regression target weights of a positive RoI are
    multiplied by ``gt_instances.loss_weights`` of the gt it is assigned to;
    negatives and the bbox head's normalisers are untouched (weights in
    (0, 1] keep mmdet's count of ``label_weights > 0``). Without
    ``loss_weights`` (or with all-ones weights) every loss equals
    ``StandardRoIHead``'s. Mask losses, if any, are not weighted.

    With ``exact=True`` the loss is Eq. 14 to the letter: proposals are
    assigned and sampled once against the own image's gts (``mix_group`` 0)
    and once against the partner's (1), the stock loss of each pass is
    weighted per image by lam / 1 - lam (metainfo ``mix_lambda``), and the
    two are added. It costs a second assignment and box-head pass, not a
    second backbone forward.

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
        # per image of the batch being trained on: (gt weights or None,
        # coefficient of the sample weights), set by ``loss`` only for the
        # duration of the call (``bbox_loss`` receives no gts).
        self._sample_scales: Optional[List[Tuple[Optional[Tensor],
                                                 float]]] = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """``StandardRoIHead.loss`` with the batch's gt weights in reach;
        in exact mode the sum over the passes of :func:`mix_group_passes`."""
        if not self.exact:
            scales = [(get_gt_loss_weights(sample.gt_instances), 1.0)
                      for sample in batch_data_samples]
            return self._loss_with_scales(x, rpn_results_list,
                                          batch_data_samples, scales)
        pass_losses = []
        for group_pass in mix_group_passes(
                [sample.gt_instances for sample in batch_data_samples],
                [sample.metainfo for sample in batch_data_samples]):
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
                    [(None, coeff) for coeff in group_pass.coeffs]))
        return sum_pass_losses(pass_losses)

    def _loss_with_scales(self, x, rpn_results_list, batch_data_samples,
                          scales) -> dict:
        self._sample_scales = scales
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._sample_scales = None

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """Box head loss with positive RoIs weighted by their gt's weight.

        Returns the same dict as ``StandardRoIHead.bbox_loss``.
        """
        scales = self._sample_scales
        if scales is None or not (self.mix_cls or self.mix_reg) or all(
                w is None and c == 1.0 for w, c in scales):
            return super().bbox_loss(x, sampling_results)

        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        labels, label_weights, bbox_targets, bbox_weights = \
            self.bbox_head.get_targets(sampling_results, self.train_cfg)
        roi_weights = torch.cat([
            sampled_loss_weights(res, w) * c
            for res, (w, c) in zip(sampling_results, scales)
        ])
        label_weights, bbox_weights = scale_target_weights(
            label_weights, bbox_weights, roi_weights, self.mix_cls,
            self.mix_reg)
        loss_bbox = self.bbox_head.loss(bbox_results['cls_score'],
                                        bbox_results['bbox_pred'], rois,
                                        labels, label_weights, bbox_targets,
                                        bbox_weights)
        bbox_results.update(loss_bbox=loss_bbox)
        return bbox_results
