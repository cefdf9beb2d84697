"""mmdet's MixUp and CachedMixUp with LossMix's blend coefficient and box
weights."""
import copy
from typing import Optional, Tuple

import mmcv
import numpy as np
import torch
from mmdet.datasets.transforms import CachedMixUp, MixUp
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from numpy import random  # the generator mmdet's transforms draw from

from ...mixing.args import check_alpha, check_mix_lambda, check_region_mode
from ...mixing.masks import mask_pixels, mask_visible
from ...mixing.rules import instance_weights
from ...structures import LossMixBoxes


def check_mixup_args(mode: str, alpha) -> Tuple[str, Optional[float]]:
    """Check the LossMix arguments of the MixUp transforms.

    Args:
        mode (str): ``'lossmix'`` or ``'union'``.
        alpha (float, optional): Beta(alpha, alpha) parameter of lam; None
            keeps mmdet's fixed 0.5.

    Returns:
        tuple: ``mode`` and ``alpha`` (a float or None).

    Raises:
        ValueError: naming the bad value and the valid ones.
    """
    return check_region_mode(mode), check_alpha(alpha, allow_none=True)


def match_channels(own: np.ndarray,
                   partner: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Give a grayscale image the channels of a colour one.

    Args:
        own (np.ndarray): (H, W) or (H, W, C) own image.
        partner (np.ndarray): (h, w) or (h, w, C') partner image.

    Returns:
        tuple[np.ndarray, np.ndarray]: both unchanged when their channels
        agree (a single-channel partner as (h, w)), else the single-channel
        one repeated to the other's C channels.

    Raises:
        ValueError: for two different channel counts, neither of them 1.
    """
    channels = [1 if img.ndim == 2 else img.shape[2] for img in (own, partner)]
    if channels[0] != channels[1] and min(channels) != 1:
        raise ValueError('MixUp cannot blend images of channels '
                         f'{channels[0]} (own) and {channels[1]} (partner): '
                         'load every image with the same color_type')
    num = max(channels)
    if channels[0] == channels[1]:
        return own, partner.reshape(partner.shape[:2]) if num == 1 else partner
    return tuple(img if c == num else _to_colour(img, num)
                 for img, c in zip((own, partner), channels))


def _to_colour(gray: np.ndarray, num: int) -> np.ndarray:
    """A (H, W) or (H, W, 1) image as (H, W, num), repeated."""
    return np.repeat(gray.reshape(gray.shape[:2] + (1, )), num, 2)


def blend(own: np.ndarray, placed: np.ndarray, lam: float) -> np.ndarray:
    """``lam * own + (1 - lam) * placed`` in float32, as uint8 (truncated,
    as mmdet's MixUp).

    Args:
        own (np.ndarray): (H, W[, C]) own image.
        placed (np.ndarray): the partner placed on the own image's frame.
        lam (float): the own image's coefficient.

    Returns:
        np.ndarray: the uint8 image, of ``own``'s shape.
    """
    placed = placed.reshape(own.shape).astype(np.float32)
    mixed = lam * own.astype(np.float32) + (1.0 - lam) * placed
    return mixed.astype(np.uint8)


class LossMixUpMixin:
    """The mixing of mmdet's ``MixUp`` / ``CachedMixUp`` in short steps,
    with LossMix's coefficient and weights.

    The partner is placed as mmdet places it (resize into ``img_scale``,
    jitter, flip, random crop to the own image), drawing mmdet's random
    numbers in mmdet's order from NumPy's global generator; then lam, only
    when ``alpha`` is a number (``np.random.beta``, after mmdet's draws).
    The image is ``lam * own + (1 - lam) * partner`` (mmdet's 0.5 / 0.5 at
    ``alpha=None``). Own boxes get ``loss_weights`` times lam and group 0,
    the partner's times 1 - lam and group 1 (``instance_weights``: an image
    of coefficient 0 loses its boxes); the partner's clips multiply its
    ``visible``. ``'union'`` mode keeps the weights (and, for boxes loaded
    plain, ``visible``) at 1: mmdet's images and boxes for the same random
    state at ``alpha=None``. A grayscale image is blended with a grayscale
    one as such, with a colour one as colour (mmdet's MixUp needs colour).
    """

    def sample_lambda(self) -> float:
        """Coefficient of the own image: 0.5 for ``alpha=None``, else drawn
        from Beta(alpha, alpha)."""
        if self.alpha is None:
            return 0.5
        return float(np.random.beta(self.alpha, self.alpha))

    def sample_offset(self, padded_hw: Tuple[int, int],
                      target_hw: Tuple[int, int]) -> Tuple[int, int]:
        """(x, y) of the crop of the padded partner (y drawn first).

        Args:
            padded_hw (tuple[int, int]): (h, w) of the padded partner.
            target_hw (tuple[int, int]): (h, w) of the own image.

        Returns:
            tuple[int, int]: the crop's top-left corner.
        """
        x_offset = y_offset = 0
        if padded_hw[0] > target_hw[0]:
            y_offset = random.randint(0, padded_hw[0] - target_hw[0])
        if padded_hw[1] > target_hw[1]:
            x_offset = random.randint(0, padded_hw[1] - target_hw[1])
        return x_offset, y_offset

    def mix_with(self, results: dict, partner: dict) -> dict:
        """Blend ``partner`` into ``results``, as mmdet's MixUp.

        Args:
            results (dict): the own image's results, updated in place.
            partner (dict): the partner's results, only read.

        Returns:
            dict: ``results`` unchanged when the partner has no boxes, else
            with ``img``, ``img_shape``, ``gt_bboxes`` (LossMixBoxes),
            labels, ignore flags (masks), ``mix_lambda`` and ``mix_mode``.
        """
        if partner['gt_bboxes'].shape[0] == 0:
            return results
        with_mask = 'gt_masks' in results
        if with_mask and 'gt_masks' not in partner:
            raise ValueError('gt_masks on the own image but not on the '
                             'MixUp partner: load masks for every image')
        jit_factor = random.uniform(*self.ratio_range)
        is_flip = random.uniform(0, 1) > self.flip_ratio
        own_img, partner_img = match_channels(results['img'], partner['img'])
        canvas, scale = self._jitter(partner_img, jit_factor, is_flip)
        target_hw = own_img.shape[:2]
        padded = self._pad(canvas, target_hw)
        x, y = self.sample_offset(padded.shape[:2], target_hw)
        placed = padded[y:y + target_hw[0], x:x + target_hw[1]]
        lam = check_mix_lambda(self.sample_lambda(), 'sampled lam')
        boxes = self._place_boxes(partner['gt_bboxes'], scale,
                                  canvas.shape[:2], is_flip, (x, y), target_hw)
        masks = None
        if with_mask:
            masks, pixels = self._place_masks(partner['gt_masks'], scale,
                                              is_flip, (x, y), target_hw)
            if self.mode == 'lossmix':  # the share of each mask, not box
                carried = LossMixBoxes.from_boxes(partner['gt_bboxes']).visible
                boxes.visible = mask_visible(pixels, masks, carried,
                                             boxes.visible)
        img = blend(own_img, placed, lam)
        results.update(
            self._mixed_gts(results, partner, boxes, masks, lam, target_hw),
            img=img,
            img_shape=img.shape[:2],
            mix_lambda=lam,
            mix_mode=self.mode)
        return results

    def _jitter(self, img: np.ndarray, jit_factor: float,
                is_flip: bool) -> Tuple[np.ndarray, float]:
        """The partner resized into ``img_scale`` (top left, padded),
        scaled by ``jit_factor`` and maybe flipped.

        Returns:
            tuple: the canvas (dtype as mmdet's: float for a float
            ``pad_val``) and the partner's total scale factor.
        """
        width, height = self.dynamic_scale
        canvas = np.ones(
            (height, width) + img.shape[2:], dtype=img.dtype) * self.pad_val
        scale = min(height / img.shape[0], width / img.shape[1])
        resized = mmcv.imresize(
            img, (int(img.shape[1] * scale), int(img.shape[0] * scale)))
        canvas[:resized.shape[0], :resized.shape[1]] = resized
        size = (int(canvas.shape[1] * jit_factor),
                int(canvas.shape[0] * jit_factor))
        canvas = mmcv.imresize(canvas, size)
        if is_flip:
            canvas = canvas[:, ::-1]
        return canvas, scale * jit_factor

    def _pad(self, canvas: np.ndarray, target_hw: tuple) -> np.ndarray:
        """The canvas on a uint8 ``pad_val`` image at least the own image's
        size (values truncated to uint8, as mmdet)."""
        height = max(canvas.shape[0], target_hw[0])
        width = max(canvas.shape[1], target_hw[1])
        padded = np.ones((height, width) + canvas.shape[2:]) * self.pad_val
        padded = padded.astype(np.uint8)
        padded[:canvas.shape[0], :canvas.shape[1]] = canvas
        return padded

    def _place_boxes(self, boxes, scale: float, canvas_hw: Tuple[int, int],
                     is_flip: bool, offset: Tuple[int, int],
                     target_hw: Tuple[int, int]):
        """The partner's boxes moved as its image (a new object): in
        ``'lossmix'`` mode as ``LossMixBoxes``, whose clips multiply in the
        share each box keeps."""
        if self.mode == 'lossmix':
            boxes = LossMixBoxes.from_boxes(boxes)
        elif not isinstance(boxes, BaseBoxes):
            boxes = HorizontalBoxes(np.asarray(boxes, np.float32))
        boxes = boxes.clone()
        boxes.rescale_([scale, scale])
        if self.bbox_clip_border:
            boxes.clip_(canvas_hw)
        if is_flip:
            boxes.flip_(canvas_hw, direction='horizontal')
        boxes.translate_([-offset[0], -offset[1]])
        if self.bbox_clip_border:
            boxes.clip_(target_hw)
        return boxes

    @staticmethod
    def _place_masks(masks, scale: float, is_flip: bool,
                     offset: Tuple[int, int], target_hw: Tuple[int, int]):
        """The partner's masks moved as its image (as ``CachedMixUp``), and
        each one's pixels before the crop (for its visible share)."""
        masks = masks.rescale(scale)
        pixels = mask_pixels(masks.to_ndarray())
        if is_flip:
            masks = masks.flip()
        for direction, shift in zip(('horizontal', 'vertical'), offset):
            masks = masks.translate(
                out_shape=target_hw, offset=-shift, direction=direction)
        return masks, pixels

    def _mixed_gts(self, results: dict, partner: dict, partner_boxes,
                   partner_masks, lam: float, target_hw: Tuple[int,
                                                               int]) -> dict:
        """Own then partner gts, weighted, without the boxes outside the
        image or of an image of coefficient 0.

        Returns:
            dict: ``gt_bboxes`` (LossMixBoxes), ``gt_bboxes_labels``,
            ``gt_ignore_flags`` (and ``gt_masks``).
        """
        weights = instance_weights(self.mode, lam)
        boxes = LossMixBoxes.cat([results['gt_bboxes'], partner_boxes])
        counts = torch.as_tensor(
            [len(results['gt_bboxes']),
             len(partner_boxes)])
        # cat made new fields: weight them in place, own then partner
        boxes.loss_weights.mul_(
            torch.as_tensor(weights).repeat_interleave(counts))
        boxes.mix_group.copy_(torch.arange(2).repeat_interleave(counts))
        keep = boxes.is_inside(target_hw).numpy() & np.repeat(
            [w > 0 for w in weights], counts.numpy())
        labels = [results['gt_bboxes_labels'], partner['gt_bboxes_labels']]
        gts = dict(
            gt_bboxes=boxes[keep],
            gt_bboxes_labels=np.concatenate(labels)[keep],
            gt_ignore_flags=np.concatenate(
                [_ignore_flags(results),
                 _ignore_flags(partner)])[keep])
        if partner_masks is not None:
            gts['gt_masks'] = partner_masks.cat(
                [results['gt_masks'], partner_masks])[keep]
        return gts

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', mode={self.mode!r}, alpha={self.alpha})')


def _ignore_flags(results: dict) -> np.ndarray:
    """The results' ignore flags (all False when absent)."""
    flags = results.get('gt_ignore_flags')
    if flags is None:
        return np.zeros(len(results['gt_bboxes_labels']), dtype=bool)
    return np.asarray(flags, dtype=bool)


@TRANSFORMS.register_module()
class LossMixMixUp(LossMixUpMixin, MixUp):
    """mmdet's ``MixUp`` with lam ~ Beta(alpha, alpha) and LossMix weights
    (:class:`LossMixUpMixin`).

    Required Keys: as ``MixUp`` (``mix_results`` from
    ``MultiImageMixDataset``; ``gt_masks`` optional, moved with the boxes).

    Modified Keys: img, img_shape, gt_bboxes (LossMixBoxes),
    gt_bboxes_labels, gt_ignore_flags (gt_masks).

    Added Keys: mix_lambda (float), mix_mode (str).

    Args:
        mode (str): ``'lossmix'`` (own boxes weigh lam, the partner's
            1 - lam) or ``'union'`` (weights 1). Defaults to ``'lossmix'``.
        alpha (float, optional): Beta(alpha, alpha) parameter of lam; None
            keeps mmdet's 0.5. Defaults to None.
        *args, **kwargs: ``MixUp`` arguments.
    """

    def __init__(self,
                 *args,
                 mode: str = 'lossmix',
                 alpha: Optional[float] = None,
                 **kwargs) -> None:
        self.mode, self.alpha = check_mixup_args(mode, alpha)
        super().__init__(*args, **kwargs)

    def transform(self, results: dict) -> dict:
        """Mix ``results`` with ``results['mix_results'][0]``."""
        mix_results = results.get('mix_results')
        if mix_results is None or len(mix_results) != 1:
            raise ValueError(
                'LossMixMixUp needs results["mix_results"] with one partner '
                "(mmdet's MultiImageMixDataset), got "
                f'{None if mix_results is None else len(mix_results)}')
        return self.mix_with(results, mix_results[0])


@TRANSFORMS.register_module()
class LossMixCachedMixUp(LossMixUpMixin, CachedMixUp):
    """mmdet's ``CachedMixUp`` with lam ~ Beta(alpha, alpha) and LossMix
    weights (:class:`LossMixUpMixin`).

    Required, modified and added keys as :class:`LossMixMixUp`, without
    ``mix_results``: the partner comes from the cache.

    Args:
        mode (str): ``'lossmix'`` or ``'union'``. Defaults to ``'lossmix'``.
        alpha (float, optional): Beta(alpha, alpha) parameter of lam; None
            keeps mmdet's 0.5. Defaults to None.
        *args, **kwargs: ``CachedMixUp`` arguments.
    """

    def __init__(self,
                 *args,
                 mode: str = 'lossmix',
                 alpha: Optional[float] = None,
                 **kwargs) -> None:
        self.mode, self.alpha = check_mixup_args(mode, alpha)
        super().__init__(*args, **kwargs)

    def transform(self, results: dict) -> dict:
        """Cache ``results``, then mix it with a cached sample (if any)."""
        partner = self._partner_from_cache(results)
        if partner is None:
            return results
        return self.mix_with(results, partner)

    def _partner_from_cache(self, results: dict) -> Optional[dict]:
        """Cache a copy of ``results`` and draw a partner, as mmdet's
        ``CachedMixUp`` (same draws, same order).

        Returns:
            dict, optional: the cached partner (read only), or None when
            the cache holds one sample or the ``prob`` draw says no.
        """
        self.results_cache.append(copy.deepcopy(results))
        if len(self.results_cache) > self.max_cached_images:
            index = random.randint(0, len(self.results_cache) - 1) \
                if self.random_pop else 0
            self.results_cache.pop(index)
        if len(self.results_cache) <= 1:
            return None
        if random.uniform(0, 1) > self.prob:
            return None
        return self.results_cache[self.get_indexes(self.results_cache)]
