"""In-batch LossMix: each image mixed with another image of its own batch."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import BaseBoxes
from ...mixing.args import (check_mix_args, check_mix_lambdas,
                              check_mix_mode)
from ...mixing.masks import cat_masks, place_masks
from ...mixing.rules import instance_weights

PARTNER_ORDERS = ('random', 'permutation', 'reverse', 'shift')


def mix_batch(inputs: Tensor,
              data_samples: List[DetDataSample],
              partner_inds: Tensor,
              lams: Tensor,
              mode: str = 'lossmix') -> Tuple[Tensor, List[DetDataSample]]:
    """Mix every image of a batch with a partner image of the same batch.

    The batch is what ``DetDataPreprocessor`` makes: normalised, each image
    at the top-left of a zero-padded (B, C, H, W) tensor, its size in
    ``img_shape``. Image b and its partner p are centre-aligned on a canvas
    of max height x max width (at the top-left of the batch tensor) and
    blended, ``lams[b] * img_b + (1 - lams[b]) * img_p``. Outside both images
    the canvas is 0 in normalised values, which is the normalisation mean in
    pixel terms (the same value the preprocessor pads with) -- not a black
    pixel as in ``LossMixPair``, which mixes before normalisation.

    Ground truths (``gt_instances`` and ``ignored_instances``) of both images
    are shifted by the alignment and concatenated, own first, with
    ``loss_weights`` and ``mix_group`` set as ``LossMixPair`` sets them
    (existing ``loss_weights`` are multiplied); ``reg_weights`` (per-box
    regression weights, e.g. 0 for pseudo-boxes) follow their boxes and are
    filled with ones where only some samples of the batch have them.
    Instance ``masks`` (``BitmapMasks`` or ``PolygonMasks``, on every sample
    or on none) move as their boxes do; every sample's masks, mixed or not,
    come back at the size of the batch tensor (H, W) (``DetDataPreprocessor``'s
    ``pad_mask`` size), only the part over their image's ``img_shape`` kept.
    ``lams[b] == 1`` or ``partner_inds[b] == b`` leaves sample b unmixed.
    ``img_shape`` becomes the canvas, ``pad_shape`` the larger of the two,
    ``batch_input_shape`` is unchanged; ``mix_lambda`` and ``mix_mode`` go
    to the metainfo (an unmixed sample gets ``mix_lambda`` 1.0 and no
    ``mix_mode``).

    Args:
        inputs (Tensor): (B, C, H, W) normalised, padded batch.
        data_samples (list[DetDataSample]): B samples with ``gt_instances``.
        partner_inds (Tensor): (B, ) long, the partner of each image.
        lams (Tensor): (B, ) float in [0, 1], coefficient of each own image.
        mode (str): instance weights of own / partner: ``'lossmix'``
            lam / 1 - lam, ``'union'`` 1 / 1, ``'noise'`` 1 / dropped.

    Returns:
        tuple[Tensor, list[DetDataSample]]: the mixed batch (a new tensor
        unless nothing is mixed) and the samples (updated in place).

    Raises:
        ValueError: on an unknown ``mode``, a coefficient outside [0, 1] or
            not finite, a partner index outside the batch, or lengths that
            do not match the batch.
    """
    num = inputs.size(0)
    if len(data_samples) != num or partner_inds.numel() != num or \
            lams.numel() != num:
        raise ValueError(f'batch of {num} images needs {num} samples, '
                         f'partners and lambdas, got {len(data_samples)}, '
                         f'{partner_inds.numel()}, {lams.numel()}')
    check_mix_mode(mode)
    partner_inds = partner_inds.tolist()
    lams = check_mix_lambdas(lams.tolist())
    if not all(0 <= p < num for p in partner_inds):
        raise ValueError(f'partner indices must be in [0, {num}), got '
                         f'{partner_inds}')
    with_reg = any(
        'reg_weights' in inst for s in data_samples
        for inst in (s.gt_instances, s.get('ignored_instances', {})))
    with_masks = ['masks' in s.gt_instances for s in data_samples]
    if any(with_masks) and not all(with_masks):
        raise ValueError('gt masks on only some samples of the batch: load '
                         'masks for every image or for none')
    own_gts = [
        _with_mix_fields(s.gt_instances, with_reg) for s in data_samples
    ]
    own_ignored = [
        _with_mix_fields(s.ignored_instances, with_reg)
        if 'ignored_instances' in s and 'bboxes' in s.ignored_instances else
        None for s in data_samples
    ]
    shapes = [tuple(s.img_shape[:2]) for s in data_samples]
    batch_hw = tuple(inputs.shape[2:])
    if any(with_masks):  # all masks at the batch size, each image's region
        for insts, hw in zip(own_gts + own_ignored, shapes + shapes):
            if insts is not None and 'masks' in insts:
                insts.masks = place_masks(insts.masks, hw, batch_hw, (0, 0))
    pad_shapes = [tuple(s.metainfo.get('pad_shape', s.img_shape)[:2])
                  for s in data_samples]

    # a new tensor (every mixed image is written whole below) unless
    # nothing is mixed
    mixed = torch.empty_like(inputs) if min(lams) < 1.0 else inputs
    for b, (p, lam) in enumerate(zip(partner_inds, lams)):
        sample = data_samples[b]
        # an image mixed with itself is itself: Eq. 14 with y_i = y_j is
        # L(y_i) at weight 1 (duplicated boxes would all be assigned to the
        # own copy, at weight lam)
        if lam >= 1.0 or p == b:
            if mixed is not inputs:
                mixed[b] = inputs[b]
            sample.gt_instances = own_gts[b]
            if own_ignored[b] is not None:
                sample.ignored_instances = own_ignored[b]
            sample.set_metainfo(dict(mix_lambda=1.0))
            continue
        (hb, wb), (hp, wp) = shapes[b], shapes[p]
        height, width = max(hb, hp), max(wb, wp)
        off_b = ((width - wb) // 2, (height - hb) // 2)
        off_p = ((width - wp) // 2, (height - hp) // 2)
        # blended in place (the values of a zero canvas + both terms, bit
        # for bit, without its temporaries and final copy)
        canvas = mixed[b].zero_()
        torch.mul(inputs[b, :, :hb, :wb], lam,
                  out=canvas[:, off_b[1]:off_b[1] + hb,
                             off_b[0]:off_b[0] + wb])
        canvas[:, off_p[1]:off_p[1] + hp, off_p[0]:off_p[0] + wp] += \
            (1.0 - lam) * inputs[p, :, :hp, :wp]

        weights = instance_weights(mode, lam)
        shifts = (off_b, off_p, shapes[b], shapes[p])
        sample.gt_instances = _combine(own_gts[b], own_gts[p], shifts,
                                       weights)
        if own_ignored[b] is not None or own_ignored[p] is not None:
            sample.ignored_instances = _combine(own_ignored[b],
                                                own_ignored[p], shifts,
                                                weights)
        pad_h = max(pad_shapes[b][0], pad_shapes[p][0])
        pad_w = max(pad_shapes[b][1], pad_shapes[p][1])
        sample.set_metainfo(
            dict(
                img_shape=(height, width),
                pad_shape=(pad_h, pad_w),
                mix_lambda=lam,
                mix_mode=mode))
    return mixed, data_samples


def random_derangement(num: int) -> Tensor:
    """(num, ) long: a uniformly random permutation without fixed points
    (``out[b] != b`` for every b) when ``num >= 2``; ``[0]`` for ``num`` 1.

    Rejection sampling of ``torch.randperm``: a permutation is a derangement
    with probability ~1/e, so about 2.7 draws on average.
    """
    if num < 2:
        return torch.zeros(num, dtype=torch.long)
    arange = torch.arange(num)
    while True:
        perm = torch.randperm(num)
        if not (perm == arange).any():
            return perm


def noise_lambdas(num: int, noise_range: Sequence[float]) -> Tensor:
    """(num, ) own-image coefficients of noise mixing: ``1 - u`` with the
    partner's coefficient ``u ~ U(noise_range)``."""
    low, high = noise_range
    return 1.0 - (low + (high - low) * torch.rand(num))


def _with_mix_fields(instances: InstanceData,
                     with_reg: bool = False) -> InstanceData:
    """A copy of ``instances`` that has ``loss_weights`` and ``mix_group``
    (and ``reg_weights`` when ``with_reg``), ones / zeros where missing."""
    unknown = set(instances.keys()) - {
        'bboxes', 'labels', 'masks', 'loss_weights', 'mix_group',
        'reg_weights'
    }
    if unknown:
        raise ValueError(f'in-batch mixing handles boxes and masks only, got '
                         f'instance fields {sorted(unknown)}')
    out = instances.clone()
    num = len(instances) if 'bboxes' in instances else 0
    device = _device_of(instances)
    if 'loss_weights' not in out:
        out.loss_weights = torch.ones(num, device=device)
    if 'mix_group' not in out:
        out.mix_group = torch.zeros(num, dtype=torch.long, device=device)
    if with_reg and 'reg_weights' not in out:
        out.reg_weights = torch.ones(num, device=device)
    return out


def _device_of(instances: InstanceData):
    boxes = instances.get('bboxes')
    if isinstance(boxes, BaseBoxes):
        return boxes.device
    return boxes.device if boxes is not None else 'cpu'


def _shift(boxes, offset: Tuple[int, int]):
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.clone()
        boxes.translate_(offset)
        return boxes
    return boxes + boxes.new_tensor(
        [offset[0], offset[1], offset[0], offset[1]])


def _combine(own: Optional[InstanceData], partner: Optional[InstanceData],
             shifts: tuple, weights: Sequence[float]) -> InstanceData:
    """Shifted, weighted, concatenated instances of both images.

    ``shifts`` is (own offset, partner offset, own (h, w), partner (h, w)),
    offsets (x, y) on the canvas at the top-left of the batch tensor; masks
    come in at the batch tensor's size and leave at it.
    """
    off_own, off_partner, hw_own, hw_partner = shifts
    parts = []
    for group, (inst, off, hw, w) in enumerate(
            zip((own, partner), (off_own, off_partner),
                (hw_own, hw_partner), weights)):
        if inst is None or w <= 0 or len(inst) == 0:
            continue
        part = inst.clone()
        part.bboxes = _shift(inst.bboxes, off)
        if 'masks' in inst:
            masks = inst.masks
            part.masks = place_masks(masks, hw, (masks.height, masks.width),
                                     off)
        part.loss_weights = inst.loss_weights * w
        part.mix_group = torch.full_like(inst.mix_group, group)
        parts.append(part)
    if not parts:  # no instance left: an empty set with the same fields
        template = own if own is not None else partner
        return template[0:0]
    if len(parts) == 1:
        return parts[0]
    if 'masks' not in parts[0]:
        return InstanceData.cat(parts)
    # cat_masks checks types and sizes (PolygonMasks.cat does not)
    masks = cat_masks([part.pop('masks') for part in parts])
    out = InstanceData.cat(parts)
    out.masks = masks
    return out


@MODELS.register_module()
class BatchLossMix(nn.Module):
    """LossMix inside ``DetDataPreprocessor``: mix each batch with itself.

    The paper's own implementation (supp. A): one data loader, every
    minibatch mixed with a permuted copy of itself, on the batch's device,
    with no extra loading. Use it as a batch augment::

        data_preprocessor=dict(batch_augments=[dict(type='BatchLossMix')])

    See :func:`mix_batch` for the alignment, the padding value (the
    normalisation mean in pixel terms) and the instance fields written.

    Args:
        mode (str): ``'lossmix'``, ``'union'`` or ``'noise'``. Defaults to
            ``'lossmix'``.
        alpha (float): lam ~ Beta(alpha, alpha). Defaults to 1.0.
        prob (float): probability of mixing each image. Defaults to 1.0.
        noise_range (Sequence[float]): range of the partner's coefficient in
            ``'noise'`` mode. Defaults to (0.0, 0.2).
        partner (str): ``'random'``: a random derangement, every image gets
            another image of the batch (the paper's "mixed with a randomly
            shuffled version of itself", without the fixed points that would
            leave images unmixed); ``'permutation'``: a plain random
            permutation (an image drawn as its own partner stays unmixed:
            a quarter of the images at batch 4, half the batches at
            batch 2); ``'reverse'`` (FixMatch style) or ``'shift'`` (each
            image with the next one). Defaults to ``'random'``.
    """

    def __init__(self,
                 mode: str = 'lossmix',
                 alpha: float = 1.0,
                 prob: float = 1.0,
                 noise_range: Sequence[float] = (0.0, 0.2),
                 partner: str = 'random') -> None:
        super().__init__()
        self.noise_range = check_mix_args(mode, alpha, prob, noise_range)
        if partner not in PARTNER_ORDERS:
            raise ValueError(f'partner must be one of {PARTNER_ORDERS}, got '
                             f'{partner!r}')
        self.mode = mode
        self.alpha = float(alpha)
        self.prob = float(prob)
        self.partner = partner

    def partner_indices(self, num: int) -> Tensor:
        """(num, ) long: the partner of each image of a batch of ``num``."""
        if self.partner == 'random':
            return random_derangement(num)
        if self.partner == 'permutation':
            return torch.randperm(num)
        if self.partner == 'reverse':
            return torch.arange(num - 1, -1, -1)
        return (torch.arange(num) + 1) % num

    def sample_lambdas(self, num: int) -> Tensor:
        """(num, ) coefficients of the own images; 1 for unmixed ones."""
        if self.mode == 'noise':
            lams = noise_lambdas(num, self.noise_range)
        else:
            beta = torch.distributions.Beta(
                torch.tensor(self.alpha), torch.tensor(self.alpha))
            lams = beta.sample((num, ))
        if self.prob < 1:
            lams = torch.where(torch.rand(num) < self.prob, lams,
                               torch.ones_like(lams))
        return lams

    def forward(self, inputs: Tensor, data_samples: List[DetDataSample]
                ) -> Tuple[Tensor, List[DetDataSample]]:
        """Mix the batch (a batch of one is left unmixed)."""
        num = inputs.size(0)
        lams = self.sample_lambdas(num)
        if num < 2:
            lams = torch.ones_like(lams)
        return mix_batch(inputs, data_samples, self.partner_indices(num),
                         lams, self.mode)

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, alpha={self.alpha}, prob={self.prob}, '
                f'noise_range={self.noise_range}, partner={self.partner!r}')
