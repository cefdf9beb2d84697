"""Mosaic whose boxes weigh what their tile shows of them."""
import copy
from typing import List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmdet.datasets.transforms import CachedMosaic, Mosaic
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import autocast_box_type
from numpy import random  # the generator mmdet's transforms draw from

from ...mixing.args import check_region_mode
from ...mixing.masks import mask_pixels, mask_visible
from ...structures import LossMixBoxes

TILE_LOCS = ('top_left', 'top_right', 'bottom_left', 'bottom_right')


class RegionMosaicMixin:
    """The mosaic of mmdet's ``Mosaic`` / ``CachedMosaic``, in LossMix mode
    each tile's boxes clipped to the region of the canvas that shows the
    tile.

    mmdet places each tile in its quadrant around a random centre, so the
    canvas border cuts the tiles. In ``'lossmix'`` mode a tile's box is
    clipped to the tile's pasted region, which multiplies its ``visible`` by
    the share of its area left (of its mask's pixels when the results carry
    ``gt_masks``); a box with nothing left is removed. A pasted tile's
    coefficient is 1: the boxes keep their ``loss_weights``. ``'union'``
    mode is mmdet's mosaic, image and boxes, for the same random state.
    Masks move as in ``CachedMosaic`` (onto a canvas of the image's (h, w)).
    """

    def _mosaic(self, results: dict, tiles: Sequence[dict]) -> dict:
        """Combine ``tiles`` (``results`` first) into ``results``.

        Args:
            results (dict): the own image's results (updated in place).
            tiles (Sequence[dict]): four results, ``results`` first.

        Returns:
            dict: ``results`` with the mosaic image, boxes, labels, flags
            (and masks).
        """
        img = results['img']
        canvas_hw = (int(self.img_scale[1] * 2), int(self.img_scale[0] * 2))
        canvas = np.full(canvas_hw + img.shape[2:], self.pad_val, img.dtype)
        center_x = random.uniform(*self.center_ratio_range)
        center_y = random.uniform(*self.center_ratio_range)
        center = (int(center_x * self.img_scale[0]),
                  int(center_y * self.img_scale[1]))
        with_mask = 'gt_masks' in results
        parts, pastes, pixels = zip(*[
            self._paste_tile(canvas, tile, loc, center, with_mask)
            for loc, tile in zip(TILE_LOCS, tiles)
        ])
        boxes = parts[0]['gt_bboxes'].cat([p['gt_bboxes'] for p in parts])
        masks = None
        if with_mask:
            masks = [p['gt_masks'] for p in parts]
            masks = masks[0].cat(masks)
        if self.mode == 'lossmix':
            counts = [len(p['gt_bboxes']) for p in parts]
            boxes = clip_to_tiles(boxes, pastes, counts, pixels, masks)
        elif self.bbox_clip_border:
            boxes.clip_(canvas_hw)
        keep = boxes.is_inside(canvas_hw).numpy()
        if isinstance(boxes, LossMixBoxes):
            keep &= boxes.visible.numpy() > 0
        results.update(
            img=canvas,
            img_shape=canvas.shape[:2],
            gt_bboxes=boxes[keep],
            gt_bboxes_labels=np.concatenate(
                [p['gt_bboxes_labels'] for p in parts])[keep],
            gt_ignore_flags=np.concatenate(
                [p['gt_ignore_flags'] for p in parts])[keep])
        if with_mask:
            results['gt_masks'] = masks[keep]
        return results

    def _paste_tile(self, canvas: np.ndarray, tile: dict, loc: str,
                    center: Tuple[int, int], with_mask: bool) -> tuple:
        """Resize ``tile`` (keeping its ratio), paste it at ``loc`` and move
        its boxes (and masks) there.

        Args:
            canvas (np.ndarray): the mosaic image, pasted into in place.
            tile (dict): one image's results (only read).
            loc (str): one of ``TILE_LOCS``.
            center (tuple[int, int]): the mosaic centre (x, y).
            with_mask (bool): whether to move ``gt_masks`` too.

        Returns:
            tuple: a shallow copy of ``tile`` with new boxes (and masks, cut
            to the pasted region) on the canvas; the pasted region (x1, y1,
            x2, y2); the pixels of each mask before the cut (None without
            masks).
        """
        if tile['img'].ndim != canvas.ndim:
            raise ValueError(
                f'mosaic tile {tile.get("img_path")!r} has an image of shape '
                f'{tile["img"].shape}, the own image {canvas.shape[2:]} '
                'channels: load every image with the same color_type')
        h, w = tile['img'].shape[:2]
        scale = min(self.img_scale[1] / h, self.img_scale[0] / w)
        img = mmcv.imresize(tile['img'], (int(w * scale), int(h * scale)))
        paste, crop = self._mosaic_combine(loc, center, img.shape[:2][::-1])
        canvas[paste[1]:paste[3], paste[0]:paste[2]] = \
            img[crop[1]:crop[3], crop[0]:crop[2]]
        offset = (paste[0] - crop[0], paste[1] - crop[1])
        # the boxes are the only thing moved in place: copy them alone
        tile = dict(tile, gt_bboxes=tile['gt_bboxes'].clone())
        tile['gt_bboxes'].rescale_([scale, scale])
        tile['gt_bboxes'].translate_(offset)
        pixels = None
        if with_mask:
            masks = tile['gt_masks'].rescale(float(scale))
            pixels = mask_pixels(masks)  # before the canvas cuts them
            for direction, shift in zip(('horizontal', 'vertical'), offset):
                masks = masks.translate(
                    out_shape=canvas.shape[:2],
                    offset=shift,
                    direction=direction)
            if self.mode == 'lossmix':
                masks = cut_to_region(masks, paste)
            tile['gt_masks'] = masks
        return tile, paste, pixels


def clip_to_tiles(boxes, pastes: Sequence[Sequence[int]],
                  counts: Sequence[int],
                  pixels: Sequence[Optional[np.ndarray]],
                  masks) -> LossMixBoxes:
    """Clip each tile's boxes to its pasted region; each box's ``visible``
    times the share left of it (of its mask's pixels when there are masks).

    Args:
        boxes (HorizontalBoxes | LossMixBoxes): the tiles' boxes on the
            canvas, tile after tile.
        pastes (Sequence): (x1, y1, x2, y2) of each tile on the canvas.
        counts (Sequence[int]): the number of boxes of each tile.
        pixels (Sequence): (N_k, ) pixels of each tile's masks before the
            canvas cut them; None each without masks.
        masks (BitmapMasks, optional): the tiles' masks, already cut to
            their regions; None without masks.

    Returns:
        LossMixBoxes: ``boxes`` (as ``LossMixBoxes``), clipped.
    """
    boxes = LossMixBoxes.from_boxes(boxes)
    regions = torch.as_tensor(pastes, dtype=torch.float32)
    carried = boxes.visible  # clip_to_ sets a new storage, this one stays
    boxes.clip_to_(regions.repeat_interleave(torch.as_tensor(counts), 0))
    if masks is not None:
        boxes.visible = mask_visible(
            np.concatenate(pixels), masks, carried, boxes.visible)
    return boxes


def cut_to_region(masks, region: Sequence[int]):
    """``masks`` with every pixel outside ``region`` (x1, y1, x2, y2) off."""
    inside = np.zeros(masks.masks.shape[1:], masks.masks.dtype)
    inside[region[1]:region[3], region[0]:region[2]] = 1
    masks.masks = masks.masks * inside
    return masks


def check_tiles(tiles: List[dict]) -> None:
    """Refuse partner boxes (``mix_group`` 1) on any tile but the own one:
    the mosaic keeps one ``mix_lambda``, the own image's."""
    for k, tile in enumerate(tiles[1:], 1):
        boxes = tile.get('gt_bboxes')
        if isinstance(boxes, LossMixBoxes) and boxes.has_group(1):
            raise ValueError(
                f'mosaic tile {k} ({tile.get("img_path")!r}) holds a blended '
                "partner's boxes (mix_group 1): blend after the mosaic "
                '(LossMixMixUp or LossMixPair after LossMixMosaic), not before'
            )


@TRANSFORMS.register_module()
class LossMixMosaic(RegionMosaicMixin, Mosaic):
    """mmdet's ``Mosaic``, each box weighted by what its tile shows of it.

    See :class:`RegionMosaicMixin`. Required, modified and added keys as
    ``Mosaic`` (``gt_masks`` too, when present).

    Args:
        mode (str): ``'lossmix'`` (boxes clipped to their tile, ``visible``
            the share left) or ``'union'`` (mmdet's ``Mosaic``). Defaults to
            ``'lossmix'``.
        *args, **kwargs: ``Mosaic`` arguments.
    """

    def __init__(self, *args, mode: str = 'lossmix', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode = check_region_mode(mode)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        if random.uniform(0, 1) > self.prob:
            return results
        assert 'mix_results' in results
        tiles = [results] + list(results['mix_results'])
        check_tiles(tiles)
        return self._mosaic(results, tiles)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', mode={self.mode!r})'


@TRANSFORMS.register_module()
class LossMixCachedMosaic(RegionMosaicMixin, CachedMosaic):
    """mmdet's ``CachedMosaic``, each box weighted by what its tile shows of
    it (:class:`RegionMosaicMixin`).

    Args:
        mode (str): ``'lossmix'`` or ``'union'``, as :class:`LossMixMosaic`.
            Defaults to ``'lossmix'``.
        *args, **kwargs: ``CachedMosaic`` arguments.
    """

    def __init__(self, *args, mode: str = 'lossmix', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode = check_region_mode(mode)

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        self.results_cache.append(copy.deepcopy(results))
        if len(self.results_cache) > self.max_cached_images:
            index = random.randint(0, len(self.results_cache) - 1) \
                if self.random_pop else 0
            self.results_cache.pop(index)
        if len(self.results_cache) <= 4 or random.uniform(0, 1) > self.prob:
            return results
        indices = self.get_indexes(self.results_cache)
        # the mosaic reads the cached tiles, it never changes them
        tiles = [results] + [self.results_cache[i] for i in indices]
        check_tiles(tiles)
        return self._mosaic(results, tiles)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', mode={self.mode!r})'
