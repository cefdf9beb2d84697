"""Instance masks under mixing: moved onto a mixing canvas with their image,
concatenated own first, and the visible share of each. Shared by pair
mixing (``LossMixPair``), in-batch mixing (``mix_batch``) and the region
transforms (Mosaic, MixUp, CutMix)."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmdet.structures.mask import BaseInstanceMasks, BitmapMasks, PolygonMasks


def place_masks(masks: BaseInstanceMasks, img_hw: Tuple[int, int],
                out_hw: Tuple[int, int],
                offset: Tuple[int, int]) -> BaseInstanceMasks:
    """Masks of an image moved to where the image lies on a larger canvas.

    Exactly the move of the image's pixels and boxes: the image's region
    ``[0, h) x [0, w)`` of the masks goes to ``[oy, oy + h) x [ox, ox + w)``
    of an (H, W) canvas; nothing outside the image comes along (the padding
    of masks padded beyond their image, e.g. by ``pad_mask``).

    Args:
        masks (BitmapMasks | PolygonMasks): N masks of the image, in its
            coordinates (``height``/``width`` at least the image's, as after
            ``Resize`` or ``Pad``).
        img_hw (tuple[int, int]): (h, w) of the image.
        out_hw (tuple[int, int]): (H, W) of the canvas, with
            ``oy + h <= H`` and ``ox + w <= W``.
        offset (tuple[int, int]): (ox, oy) integer position of the image's
            top-left corner on the canvas.

    Returns:
        BitmapMasks | PolygonMasks: N masks of the same type, ``height`` H
        and ``width`` W.

    Raises:
        TypeError: on another mask type.
        ValueError: when the image does not fit on the canvas at ``offset``.
    """
    (h, w), (height, width) = tuple(img_hw), tuple(out_hw)
    ox, oy = (int(v) for v in offset)
    if ox < 0 or oy < 0 or ox + w > width or oy + h > height:
        raise ValueError(f'an image of (h, w) {(h, w)} at (x, y) {(ox, oy)} '
                         f'does not fit on a canvas of {(height, width)}')
    if isinstance(masks, BitmapMasks):
        # crop clips to the masks' own size; expand places at (top, left)
        inside = masks.crop(np.array([0, 0, w, h]))
        return inside.expand(height, width, oy, ox)
    if isinstance(masks, PolygonMasks):
        # PolygonMasks.expand is not implemented; translate moves the
        # coordinates (clipped to the canvas) and sets the canvas size
        out = masks.translate((height, width), ox, direction='horizontal')
        return out.translate((height, width), oy, direction='vertical')
    raise TypeError('gt masks must be BitmapMasks or PolygonMasks, got '
                    f'{type(masks).__name__}')


def cat_masks(masks: Sequence[BaseInstanceMasks]) -> BaseInstanceMasks:
    """Concatenate masks of one type and one size, in order.

    ``BitmapMasks.cat`` fails on different sizes with numpy's message and
    ``PolygonMasks.cat`` silently keeps the first one's size: both are
    checked here.

    Args:
        masks (Sequence[BitmapMasks | PolygonMasks]): at least one.

    Returns:
        BitmapMasks | PolygonMasks: all masks, of the common type and size.

    Raises:
        TypeError: on masks of different types.
        ValueError: on masks of different sizes, or no masks.
    """
    masks = list(masks)
    if not masks:
        raise ValueError('nothing to concatenate')
    if len({type(m) for m in masks}) != 1:
        raise TypeError('cannot concatenate masks of types '
                        f'{[type(m).__name__ for m in masks]}: load every '
                        'image\'s masks the same way (poly2mask)')
    sizes = {(m.height, m.width) for m in masks}
    if len(sizes) != 1:
        raise ValueError(f'cannot concatenate masks of sizes {sorted(sizes)}')
    return type(masks[0]).cat(masks)


def mask_pixels(masks) -> np.ndarray:
    """(N, ) number of pixels of each instance mask.

    Args:
        masks (BitmapMasks | np.ndarray): N masks, (N, H, W) for an array.

    Returns:
        np.ndarray: (N, ) int64 counts.
    """
    array = masks.masks if isinstance(masks, BitmapMasks) else masks
    return np.count_nonzero(array.reshape(len(array), -1), axis=1)


def mask_visible(pixels_before: np.ndarray, masks_after, carried: torch.Tensor,
                 box_based: torch.Tensor) -> torch.Tensor:
    """The visible share of instances measured on their masks: what a cut
    or a patch leaves of each mask's pixels, times the share it carried.

    Args:
        pixels_before (np.ndarray): (N, ) pixels of each mask before the cut.
        masks_after (BitmapMasks | np.ndarray): the N masks after it.
        carried (Tensor): (N, ) float32 ``visible`` before the cut.
        box_based (Tensor): (N, ) float32 ``visible`` measured on the boxes,
            kept for a mask without pixels before.

    Returns:
        Tensor: (N, ) float32 ``carried * pixels after / pixels before``.
    """
    before = np.asarray(pixels_before, np.float64)
    share = mask_pixels(masks_after) / np.maximum(before, 1)
    share = torch.as_tensor(share, dtype=torch.float32).clamp(max=1)
    return torch.where(torch.as_tensor(before > 0), carried * share, box_based)
