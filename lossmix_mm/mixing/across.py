"""Mixing the images of normalised, padded batches with each other.

:func:`mix_batch` mixes each image of a batch with a partner of the same
batch (``BatchLossMix``); :func:`mix_across` with a partner of another batch
(the domain-adaptation teacher). Ground truths follow their pixels.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor

from .args import check_mix_lambdas, check_mix_mode
from .batch_checks import check_batch_values
from .masks import cat_masks, place_masks
from .rules import centre_offsets, instance_weights, shift_boxes

INSTANCE_FIELDS = ('bboxes', 'labels', 'masks', 'loss_weights', 'mix_group',
                   'reg_weights', 'visible')


class _Source(NamedTuple):
    """One image of the batch as it was before mixing."""
    gts: InstanceData
    ignored: Optional[InstanceData]
    hw: Tuple[int, int]
    pad_hw: Tuple[int, int]


def mix_batch(inputs: Tensor,
              data_samples: SampleList,
              partner_inds: Tensor,
              lams: Tensor,
              mode: str = 'lossmix') -> Tuple[Tensor, SampleList]:
    """Mix every image of a batch with a partner image of the same batch.

    Image b and its partner are centre-aligned on a zero canvas (the
    normalisation mean) and blended, ``lams[b] * img_b + (1 - lams[b]) *
    img_p``; their gts are shifted and concatenated own first, weighted as
    ``LossMixPair`` weights them. ``lams[b] == 1`` or ``partner_inds[b] ==
    b`` leaves sample b unmixed.

    Args:
        inputs (Tensor): (B, C, H, W) normalised batch, each image at the
            top-left, its size in ``img_shape``.
        data_samples (list[DetDataSample]): B samples with ``gt_instances``.
        partner_inds (Tensor): (B, ) long, the partner of each image.
        lams (Tensor): (B, ) coefficients of the own images, in [0, 1].
        mode (str): ``'lossmix'``, ``'union'`` or ``'noise'``.

    Returns:
        tuple[Tensor, list[DetDataSample]]: the mixed batch (a new tensor
        unless nothing is mixed) and the samples, updated in place
        (``img_shape``, ``pad_shape``, ``mix_lambda``, ``mix_mode``).

    Raises:
        ValueError: on a bad mode, coefficient, partner index or length, and
            on non-finite pixels, boxes or loss weights
            (:func:`check_batch_values`).
    """
    partners, lams = _check_pairing(inputs, data_samples, partner_inds, lams,
                                    mode)
    check_batch_values(inputs, data_samples, 'mix_batch')
    sources = _sources(data_samples, tuple(inputs.shape[2:]))
    mixed = torch.empty_like(inputs) if any(lam < 1.0 for lam in lams) \
        else inputs
    for b, (p, lam) in enumerate(zip(partners, lams)):
        sample = data_samples[b]
        if lam >= 1.0 or p == b:  # Eq. 14 with y_i = y_j is L(y_i)
            if mixed is not inputs:
                mixed[b] = inputs[b]
            _set_instances(sample, sources[b].gts, sources[b].ignored)
            sample.set_metainfo(dict(mix_lambda=1.0))
            continue
        pair = (sources[b], sources[p])
        placement = _blend_into(mixed[b], inputs[b], inputs[p],
                                [src.hw for src in pair], lam)
        _set_mixed_instances(sample, pair, placement,
                             instance_weights(mode, lam))
        pad_hw = tuple(max(sizes) for sizes in zip(*(s.pad_hw for s in pair)))
        sample.set_metainfo(
            dict(
                img_shape=placement[0],
                pad_shape=pad_hw,
                mix_lambda=lam,
                mix_mode=mode))
    return mixed, data_samples


def mix_across(
        src_x: Tensor,
        src_s: SampleList,
        tgt_x: Tensor,
        tgt_s: SampleList,
        lams: Tensor,
        mode: str,
        partner_inds: Optional[Tensor] = None) -> Tuple[Tensor, SampleList]:
    """Mix every image of one batch with an image of another batch.

    Both batches are padded to a common (H, W), stacked and handed to
    :func:`mix_batch`; the second batch's samples are dropped.

    Args:
        src_x (Tensor): (Bs, C, Hs, Ws) normalised batch.
        src_s (list[DetDataSample]): its Bs samples (changed in place).
        tgt_x (Tensor): (Bt, C, Ht, Wt) normalised batch.
        tgt_s (list[DetDataSample]): its Bt samples (changed in place).
        lams (Tensor): (Bs, ) coefficients of the first batch's images.
        mode (str): ``'lossmix'``, ``'union'`` or ``'noise'``.
        partner_inds (Tensor, optional): (Bs, ) indices into the second
            batch; random by default.

    Returns:
        tuple[Tensor, list[DetDataSample]]: (Bs, C, H, W) mixed images and
        the Bs samples, ``batch_input_shape`` (H, W).

    Raises:
        ValueError: on an empty second batch, ``lams`` or ``partner_inds``
            not of length Bs, a partner outside [0, Bt), and what
            :func:`mix_batch` refuses.
    """
    num_src, num_tgt = src_x.size(0), tgt_x.size(0)
    partner_inds = _check_across(num_src, num_tgt, lams, partner_inds)
    both = pad_cat([src_x, tgt_x])
    partner_inds = torch.cat([
        partner_inds.cpu().long() + num_src,
        torch.arange(num_src, num_src + num_tgt)
    ])
    lams = torch.cat([lams.cpu().float(), torch.ones(num_tgt)])
    mixed, samples = mix_batch(both,
                               list(src_s) + list(tgt_s), partner_inds, lams,
                               mode)
    samples = samples[:num_src]
    for sample in samples:
        sample.set_metainfo(dict(batch_input_shape=tuple(both.shape[2:])))
    return mixed[:num_src], samples


def pad_cat(batches: List[Tensor]) -> Tensor:
    """Stack batches of images at the top-left of a common size.

    Args:
        batches (list[Tensor]): (Bk, C, Hk, Wk) batches.

    Returns:
        Tensor: (sum Bk, C, max Hk, max Wk), padded with 0 (the
        normalisation mean, as ``DetDataPreprocessor`` pads).
    """
    height = max(x.size(2) for x in batches)
    width = max(x.size(3) for x in batches)
    if all(tuple(x.shape[2:]) == (height, width) for x in batches):
        return torch.cat(batches)
    out = batches[0].new_zeros(
        (sum(x.size(0) for x in batches), batches[0].size(1), height, width))
    start = 0
    for x in batches:
        out[start:start + x.size(0), :, :x.size(2), :x.size(3)] = x
        start += x.size(0)
    return out


def _check_pairing(inputs: Tensor, samples: SampleList, partner_inds: Tensor,
                   lams: Tensor, mode: str) -> Tuple[List[int], List[float]]:
    """The partners and coefficients of :func:`mix_batch` as lists.

    Raises:
        ValueError: on lengths other than the batch's, a bad mode, a
            coefficient outside [0, 1] or a partner outside the batch.
    """
    num = inputs.size(0)
    if len(samples) != num or partner_inds.numel() != num or \
            lams.numel() != num:
        raise ValueError(f'batch of {num} images needs {num} samples, '
                         f'partners and lambdas, got {len(samples)}, '
                         f'{partner_inds.numel()}, {lams.numel()}')
    check_mix_mode(mode)
    partners = partner_inds.tolist()
    lams = check_mix_lambdas(lams.tolist())
    if not all(0 <= p < num for p in partners):
        raise ValueError(f'partner indices must be in [0, {num}), got '
                         f'{partners}')
    return partners, lams


def _check_across(num_src: int, num_tgt: int, lams: Tensor,
                  partner_inds: Optional[Tensor]) -> Tensor:
    """The partners of :func:`mix_across`, drawn when not given.

    Raises:
        ValueError: on an empty second batch, lengths other than
            ``num_src`` or partners outside [0, ``num_tgt``).
    """
    if num_tgt == 0:
        raise ValueError('cannot mix with an empty second batch')
    if lams.numel() != num_src:
        raise ValueError(f'{num_src} images to mix need {num_src} '
                         f'coefficients, got {lams.numel()}')
    if partner_inds is None:
        return torch.randint(num_tgt, (num_src, ))
    if partner_inds.numel() != num_src or \
            not all(0 <= p < num_tgt for p in partner_inds.tolist()):
        raise ValueError(f'partner_inds must be {num_src} indices into the '
                         f'second batch, in [0, {num_tgt}), got '
                         f'{partner_inds.tolist()}')
    return partner_inds


def _sources(samples: SampleList, batch_hw: Tuple[int, int]) -> List[_Source]:
    """Each sample's instances with LossMix fields, and its sizes.

    Masks are moved to the batch size (each image's region kept).

    Raises:
        ValueError: when only some samples have masks.
    """
    with_reg = any('reg_weights' in inst for s in samples
                   for inst in (s.gt_instances,
                                s.get('ignored_instances', {})))
    with_visible = any('visible' in s.gt_instances for s in samples)
    with_masks = ['masks' in s.gt_instances for s in samples]
    if any(with_masks) and not all(with_masks):
        raise ValueError('gt masks on only some samples of the batch: load '
                         'masks for every image or for none')
    sources = []
    for s in samples:
        hw = tuple(s.img_shape[:2])
        ignored = s.get('ignored_instances')
        parts = [
            s.gt_instances,
            ignored if ignored is not None and 'bboxes' in ignored else None
        ]
        parts = [
            _with_mix_fields(p, with_reg, with_visible)
            if p is not None else None for p in parts
        ]
        for part in parts:
            if part is not None and 'masks' in part:
                part.masks = place_masks(part.masks, hw, batch_hw, (0, 0))
        pad_hw = tuple(s.metainfo.get('pad_shape', s.img_shape)[:2])
        sources.append(_Source(parts[0], parts[1], hw, pad_hw))
    return sources


def _with_mix_fields(instances: InstanceData,
                     with_reg: bool = False,
                     with_visible: bool = False) -> InstanceData:
    """A copy with ``loss_weights`` / ``mix_group`` (and ``reg_weights``
    when ``with_reg``, ``visible`` when ``with_visible``): ones / zeros
    where missing.

    Raises:
        ValueError: on instance fields other than ``INSTANCE_FIELDS``.
    """
    unknown = set(instances.keys()) - set(INSTANCE_FIELDS)
    if unknown:
        raise ValueError(f'in-batch mixing handles boxes and masks only, got '
                         f'instance fields {sorted(unknown)}')
    out = instances.clone()
    boxes = instances.get('bboxes')
    num = len(instances) if boxes is not None else 0
    device = boxes.device if boxes is not None else 'cpu'
    if 'loss_weights' not in out:
        out.loss_weights = torch.ones(num, device=device)
    if 'mix_group' not in out:
        out.mix_group = torch.zeros(num, dtype=torch.long, device=device)
    if with_reg and 'reg_weights' not in out:
        out.reg_weights = torch.ones(num, device=device)
    if with_visible and 'visible' not in out:
        out.visible = torch.ones(num, device=device)
    return out


def _blend_into(out: Tensor, own: Tensor, partner: Tensor,
                hws: Sequence[Tuple[int, int]],
                lam: float) -> Tuple[tuple, tuple, tuple]:
    """Write ``lam * own + (1 - lam) * partner``, centre-aligned, to
    ``out``.

    Args:
        out (Tensor): (C, H, W), overwritten whole.
        own (Tensor): (C, H, W), the own image at its top-left.
        partner (Tensor): (C, H, W), the partner image at its top-left.
        hws (Sequence[tuple[int, int]]): (h, w) of own and partner.
        lam (float): the own image's coefficient.

    Returns:
        tuple: :func:`centre_offsets` of the two images (canvas (h, w),
        own (x, y), partner (x, y)).
    """
    placement = centre_offsets(*hws)
    (hb, wb), (hp, wp) = hws
    (xb, yb), (xp, yp) = placement[1:]
    out.zero_()
    torch.mul(own[:, :hb, :wb], lam, out=out[:, yb:yb + hb, xb:xb + wb])
    out[:, yp:yp + hp, xp:xp + wp] += (1.0 - lam) * partner[:, :hp, :wp]
    return placement


def _set_instances(sample, gts: InstanceData,
                   ignored: Optional[InstanceData]) -> None:
    sample.gt_instances = gts
    if ignored is not None:
        sample.ignored_instances = ignored


def _set_mixed_instances(sample, sources: Sequence[_Source], placement: tuple,
                         weights: Sequence[float]) -> None:
    """Give ``sample`` the weighted, shifted instances of both sources."""
    moves = list(zip(placement[1:], (src.hw for src in sources), weights))
    gts = _combine([src.gts for src in sources], moves)
    ignored = None
    if any(src.ignored is not None for src in sources):
        ignored = _combine([src.ignored for src in sources], moves)
    _set_instances(sample, gts, ignored)


def _combine(parts: Sequence[Optional[InstanceData]],
             moves: Sequence[tuple]) -> InstanceData:
    """Shifted, weighted, concatenated instances of own and partner.

    Args:
        parts (Sequence[InstanceData | None]): own and partner instances,
            masks at the batch tensor's size.
        moves (Sequence[tuple]): per part, its (x, y) offset, its image's
            (h, w) and its instance weight (0 drops it).

    Returns:
        InstanceData: the kept instances, own first (an empty set with the
        same fields when none is kept).
    """
    kept = []
    for group, (inst, (offset, hw, weight)) in enumerate(zip(parts, moves)):
        if inst is None or weight <= 0 or len(inst) == 0:
            continue
        part = inst.clone()
        part.bboxes = shift_boxes(inst.bboxes, offset)
        if 'masks' in inst:
            part.masks = place_masks(inst.masks, hw,
                                     (inst.masks.height, inst.masks.width),
                                     offset)
        part.loss_weights = inst.loss_weights * weight
        part.mix_group = torch.full_like(inst.mix_group, group)
        kept.append(part)
    if not kept:
        template = next(p for p in parts if p is not None)
        return template[0:0]
    if len(kept) == 1 or 'masks' not in kept[0]:
        return kept[0] if len(kept) == 1 else InstanceData.cat(kept)
    masks = cat_masks([part.pop('masks') for part in kept])
    out = InstanceData.cat(kept)
    out.masks = masks
    return out
