"""Mixing across two batches (source x target) on top of in-batch mixing."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmdet.structures import SampleList
from .batch_lossmix import mix_batch


def mix_across(src_x: Tensor,
               src_s: SampleList,
               tgt_x: Tensor,
               tgt_s: SampleList,
               lams: Tensor,
               mode: str,
               partner_inds: Optional[Tensor] = None
               ) -> Tuple[Tensor, SampleList]:
    """Mix every image of one batch with an image of another batch.

    Both batches are padded (with 0, the normalisation mean) to a common
    (H, W), stacked, and handed to :func:`mix_batch` with each first-batch
    image's partner in the second batch; the second batch's samples are left
    unmixed and dropped.

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
        the Bs samples, ``batch_input_shape`` = (H, W).

    Raises:
        ValueError: on an empty second batch, ``lams`` or ``partner_inds``
            not of length Bs, a partner index outside [0, Bt), and what
            :func:`mix_batch` rejects (coefficients outside [0, 1], modes).
    """
    num_src, num_tgt = src_x.size(0), tgt_x.size(0)
    if num_tgt == 0:
        raise ValueError('cannot mix with an empty second batch')
    if lams.numel() != num_src:
        raise ValueError(f'{num_src} images to mix need {num_src} '
                         f'coefficients, got {lams.numel()}')
    if partner_inds is None:
        partner_inds = torch.randint(num_tgt, (num_src, ))
    elif partner_inds.numel() != num_src or \
            not all(0 <= p < num_tgt for p in partner_inds.tolist()):
        raise ValueError(f'partner_inds must be {num_src} indices into the '
                         f'second batch, in [0, {num_tgt}), got '
                         f'{partner_inds.tolist()}')
    both = pad_cat([src_x, tgt_x])
    height, width = both.shape[2:]
    partner_inds = torch.cat([
        partner_inds.cpu().long() + num_src,
        torch.arange(num_src, num_src + num_tgt)
    ])
    lams = torch.cat([lams.cpu().float(), torch.ones(num_tgt)])
    mixed, samples = mix_batch(both, list(src_s) + list(tgt_s), partner_inds,
                               lams, mode)
    samples = samples[:num_src]
    for sample in samples:
        sample.set_metainfo(dict(batch_input_shape=(height, width)))
    return mixed[:num_src], samples


def pad_cat(batches: List[Tensor]) -> Tensor:
    """Stack (Bk, C, Hk, Wk) batches into one (sum Bk, C, max H, max W),
    each image at the top-left, padded with 0 (the normalisation mean, as
    ``DetDataPreprocessor`` pads)."""
    height = max(x.size(2) for x in batches)
    width = max(x.size(3) for x in batches)
    if all(tuple(x.shape[2:]) == (height, width) for x in batches):
        return torch.cat(batches)
    out = batches[0].new_zeros((sum(x.size(0) for x in batches),
                                batches[0].size(1), height, width))
    start = 0
    for x in batches:
        out[start:start + x.size(0), :, :x.size(2), :x.size(3)] = x
        start += x.size(0)
    return out
