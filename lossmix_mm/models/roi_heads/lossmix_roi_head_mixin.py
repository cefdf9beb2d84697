"""What every LossMix RoI head shares: the batch's gt weights in reach of
the box and mask losses, and the exact (Eq. 14) passes."""
from typing import ContextManager, List, Optional, Tuple, Union

import torch
from mmengine.config import ConfigDict
from torch import Tensor, nn

from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import InstanceList
from ..utils import (EXACT_MODES, get_gt_loss_weights, get_gt_reg_weights,
                     mix_group_passes, positive_loss_weights,
                     resolve_exact_mode, roi_weighted_loss,
                     sampled_loss_weights, scale_target_weights,
                     sum_pass_losses)

# per image: (gt loss weights or None, gt reg weights or None, coefficient)
SampleScales = List[Tuple[Optional[Tensor], Optional[Tensor], float]]


class LossMixRoIHeadMixin:
    """LossMix weights for an mmdet RoI head (put it first in the bases).

    ``loss`` stores, per image, the gt ``loss_weights``, the gt
    ``reg_weights`` and a coefficient (1, or the image's lam / 1 - lam in an
    exact pass) for the duration of the stock ``loss``, whose ``bbox_loss`` /
    ``mask_loss`` receive sampling results but no gts. The subclass's
    ``bbox_loss`` builds its targets with :meth:`_weighted_bbox_targets` and
    its ``mask_loss`` runs the stock one inside :meth:`_weighted_mask_loss`.

    Exact mode (Eq. 14), ``exact`` one of :attr:`exact_modes`:
    ``'two_pass'``: ``loss`` is the sum over the passes of
    :func:`~lossmix_mm.models.utils.mix_group_passes` of the stock ``loss``
    against each pass's gts (every stage of a cascade included), each image
    weighted by its coefficient and each pass scaled by its share of the
    batch. ``'single_pass'``: the subclass's :meth:`_loss_single_pass`, one
    sample and one forward whose RoIs are scored against both label sets.

    Args:
        mix_cls (bool): weight the RoI classification loss. Defaults to True.
        mix_reg (bool): weight the RoI box-regression loss. Defaults to True.
        mix_mask (bool): weight the mask loss of a positive RoI. Defaults to
            True.
        exact (bool | str): Eq. 14; False, True (the first of
            :attr:`exact_modes`) or one of them by name; needs the three
            flags on. Defaults to False.
        **kwargs: the RoI head's own arguments.
    """
    reads_loss_weights = True
    #: what ``exact`` may name; ``exact=True`` is the first
    exact_modes: Tuple[str, ...] = EXACT_MODES

    def __init__(self,
                 *args,
                 mix_cls: bool = True,
                 mix_reg: bool = True,
                 mix_mask: bool = True,
                 exact: Union[bool, str] = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exact_mode = resolve_exact_mode(
            exact, self.exact_modes, f'{type(self).__name__} exact')
        if self.exact_mode and not (mix_cls and mix_reg and mix_mask):
            raise ValueError(f'exact={exact!r} mixes every loss term (Eq. '
                             '14): it needs mix_cls=True, mix_reg=True and '
                             f'mix_mask=True, got mix_cls={mix_cls}, '
                             f'mix_reg={mix_reg}, mix_mask={mix_mask}')
        self.mix_cls = mix_cls
        self.mix_reg = mix_reg
        self.mix_mask = mix_mask
        self.exact = self.exact_mode is not None
        self._sample_scales: Optional[SampleScales] = None

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList,
             batch_data_samples: SampleList) -> dict:
        """The stock ``loss`` with the batch's gt weights in reach; in
        ``'two_pass'`` exact mode the sum over the passes of
        :func:`mix_group_passes`, each scaled by its ``loss_scale``; in
        ``'single_pass'`` exact mode :meth:`_loss_single_pass`."""
        if not self.exact:
            scales = [(get_gt_loss_weights(sample.gt_instances),
                       get_gt_reg_weights(sample.gt_instances), 1.0)
                      for sample in batch_data_samples]
            return self._loss_with_scales(x, rpn_results_list,
                                          batch_data_samples, scales)
        if self.exact_mode == 'single_pass':
            return self._loss_single_pass(x, rpn_results_list,
                                          batch_data_samples)
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

    def _loss_single_pass(self, x: Tuple[Tensor],
                          rpn_results_list: InstanceList,
                          batch_data_samples: SampleList) -> dict:
        """Eq. 14 with one sample and one forward (``'single_pass'``);
        implemented by the heads that list the mode in
        :attr:`exact_modes`."""
        raise NotImplementedError(
            f'{type(self).__name__} has no single-pass exact mode')

    def _loss_with_scales(self, x: Tuple[Tensor],
                          rpn_results_list: InstanceList,
                          batch_data_samples: SampleList,
                          scales: SampleScales) -> dict:
        """The stock ``loss`` with ``scales`` readable by the loss parts."""
        self._sample_scales = scales
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._sample_scales = None

    def _weighted_bbox_targets(
            self, bbox_head: nn.Module,
            sampling_results: List[SamplingResult],
            rcnn_train_cfg: ConfigDict) -> Optional[tuple]:
        """``bbox_head.get_targets`` with the positive RoIs weighted.

        Args:
            bbox_head (nn.Module): a ``BBoxHead``.
            sampling_results (list[SamplingResult]): one per image.
            rcnn_train_cfg (ConfigDict): the (stage's) rcnn train config.

        Returns:
            tuple or None: (labels, label_weights, bbox_targets,
            bbox_weights) of the S sampled RoIs, (S, ), (S, ), (S, 4),
            (S, 4), label / bbox weights multiplied per RoI; None when every
            multiplier is 1 by construction (the caller takes the stock
            path).
        """
        scales = self._sample_scales
        if scales is not None and not (self.mix_cls or self.mix_reg):
            scales = [(None, r, c) for _, r, c in scales]
        if scales is None or all(w is None and r is None and c == 1.0
                                 for w, r, c in scales):
            return None
        labels, label_weights, bbox_targets, bbox_weights = \
            bbox_head.get_targets(sampling_results, rcnn_train_cfg)
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
        return labels, label_weights, bbox_targets, bbox_weights

    def _mask_roi_weights(
            self, sampling_results: List[SamplingResult]) -> Optional[Tensor]:
        """Weight of every positive RoI of the batch, in the mask head's
        order (the images' positives one after the other).

        Returns:
            Tensor or None: (P, ) the assigned gt's ``loss_weights`` (if
            ``mix_mask``) times the image's coefficient; None when all are 1.
            ``reg_weights`` do not reach masks.
        """
        scales = self._sample_scales
        if scales is None:
            return None
        parts = []
        for res, (w, _, c) in zip(sampling_results, scales):
            inds = res.pos_assigned_gt_inds
            if w is None or not self.mix_mask:
                parts.append(torch.full(inds.shape, c, device=inds.device))
            else:
                parts.append(positive_loss_weights(inds, w.to(inds.device)) *
                             c)
        weights = torch.cat(parts)
        return None if bool((weights == 1).all()) else weights

    def _weighted_mask_loss(
            self, mask_head: nn.Module,
            sampling_results: List[SamplingResult]) -> ContextManager:
        """A context in which ``mask_head.loss_mask`` weights each positive
        RoI by :meth:`_mask_roi_weights` (no change when all are 1), the
        normaliser unchanged; see
        :func:`~lossmix_mm.models.utils.roi_weighted_mean`."""
        weights = self._mask_roi_weights(sampling_results)
        if weights is not None and not isinstance(
                getattr(mask_head, 'loss_mask', None), nn.Module):
            raise TypeError(f'{type(self).__name__} weights the mask loss '
                            'module `loss_mask` of the mask head, which '
                            f'{type(mask_head).__name__} lacks; set '
                            'mix_mask=False to train its masks unweighted')
        return roi_weighted_loss(mask_head, 'loss_mask', weights)
