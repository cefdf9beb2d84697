"""Pair mixing of two training images for LossMix, Union and Noise mixing."""
import copy
import numbers
from collections import deque
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes

from ...mixing.args import (MIX_ARGS, MIX_MODES, check_mix_args,
                            check_mix_lambda, update_mix_args)
from ...mixing.masks import cat_masks, place_masks
from ...mixing.rules import centre_offsets, instance_weights
from ...structures import LossMixBoxes

__all__ = [
    'LossMixPair', 'MIX_ARGS', 'MIX_MODES', 'check_mix_args', 'update_mix_args'
]


@TRANSFORMS.register_module()
class LossMixPair(BaseTransform):
    """Mix a training image with a partner image, weighting each box.

    Both images are centred on a zero-padded canvas and blended
    (``lam * own + (1 - lam) * partner``); each image's boxes are clipped,
    shifted and concatenated, own first, as :class:`LossMixBoxes` carrying
    ``loss_weights`` and ``mix_group`` (0 own, 1 partner). The partner
    comes from ``MultiImageMixDataset`` or, with ``cache_size``, from the
    last samples seen (docs/user_guides/mixing_modes.md). Raises
    ``ValueError`` for an untrainable box or a non-finite pixel.

    Required Keys:

    - img, gt_bboxes, gt_bboxes_labels
    - gt_ignore_flags, gt_masks (optional)
    - mix_results (list[dict]): the partner, [] = no mix (no cache only)

    Modified Keys:

    - img (float32 when mixed), img_shape, gt_bboxes (LossMixBoxes)
    - gt_bboxes_labels, gt_ignore_flags, gt_masks (optional)

    Added Keys:

    - mix_lambda (float): own image's coefficient, 1.0 when not mixed
    - mix_mode (str)

    Args:
        mode (str): ``'lossmix'``, ``'union'`` or ``'noise'``.
        alpha (float): Beta(alpha, alpha) parameter of lam.
        prob (float): probability of mixing a sample (0.5: LossMix-Reg).
        noise_range (Sequence[float]): partner's coefficient range in
            ``'noise'`` mode.
        cache_size (int, optional): K > 0 draws the partner from the last
            K samples seen instead of loading one.
    """

    def __init__(self,
                 mode: str = 'lossmix',
                 alpha: float = 1.0,
                 prob: float = 1.0,
                 noise_range: Sequence[float] = (0.0, 0.2),
                 cache_size: Optional[int] = None) -> None:
        self.noise_range = check_mix_args(mode, alpha, prob, noise_range)
        self.mode = mode
        self.alpha = float(alpha)
        self.prob = float(prob)
        self.cache_size = _check_cache_size(cache_size)
        # the last cache_size samples, oldest first (dicts of _CACHED_KEYS)
        self.results_cache: deque = deque(maxlen=self.cache_size)

    def get_indexes(self, dataset) -> List[int]:
        """Index of the partner image, or [] to leave this sample unmixed.

        Args:
            dataset: the dataset wrapped by ``MultiImageMixDataset``.

        Returns:
            list[int]: one index, or none (then nothing extra is loaded);
            always none with a partner cache.
        """
        if self.cache_size:
            return []
        if self.prob < 1 and np.random.rand() >= self.prob:
            return []
        return [int(np.random.randint(0, len(dataset)))]

    def sample_lambda(self) -> float:
        """Coefficient of the own image."""
        if self.mode == 'noise':
            return 1.0 - float(np.random.uniform(*self.noise_range))
        return float(np.random.beta(self.alpha, self.alpha))

    def transform(self, results: dict) -> dict:
        """Mix ``results`` with ``results['mix_results'][0]`` (if any), or
        with a cached sample when ``cache_size > 0``."""
        if self.cache_size:
            return self.mix(results, self._partner_from_cache(results))
        if 'mix_results' not in results:
            raise KeyError(
                'LossMixPair needs results["mix_results"]: wrap the dataset '
                'in mmdet\'s MultiImageMixDataset (see configs/lossmix/), '
                'or set cache_size > 0')
        mix_results = results['mix_results']
        return self.mix(results, mix_results[0] if mix_results else None)

    def _partner_from_cache(self, results: dict) -> Optional[dict]:
        """Draw a partner from the cache (None: no mix), then cache
        ``results``.

        The ``prob`` draw comes first, then the uniform draw among the cached
        samples that are not the same view as ``results``.
        """
        partner = None
        if self.prob >= 1 or np.random.rand() < self.prob:
            candidates = [
                c for c in self.results_cache if not _same_view(results, c)
            ]
            if candidates:
                partner = candidates[np.random.randint(len(candidates))]
        self.results_cache.append({
            k: copy.deepcopy(results[k])
            for k in _CACHED_KEYS if k in results
        })
        return partner

    def mix(self, results: dict, partner: Optional[dict]) -> dict:
        """Mix ``results`` with ``partner`` (both after the inner pipeline).

        Args:
            results (dict): the sample; modified and returned.
            partner (dict, optional): the partner's results, only read; None
                leaves the sample unmixed.

        Returns:
            dict: ``results`` with the keys listed in the class docstring.
        """
        check_pair(results, partner)
        check_gt_boxes(results, 'own')
        results['mix_mode'] = self.mode
        # no partner, or the very same view of the same image: mixing an
        # image with itself is the identity (Eq. 14 with y_i = y_j is L(y_i))
        if partner is None or _same_view(results, partner):
            results['gt_bboxes'] = LossMixBoxes.from_boxes(
                results['gt_bboxes'])
            results['mix_lambda'] = 1.0
            return results
        check_gt_boxes(partner, 'partner')
        check_finite_pixels(results, 'LossMixPair: own image')
        check_finite_pixels(partner, 'LossMixPair: partner image')

        lam = check_mix_lambda(self.sample_lambda(), 'sampled lam')
        images = (results, partner)
        img, offsets = mix_images(results['img'], partner['img'], lam)
        gts = [
            image_gts(res, offset, img.shape[:2], weight, group)
            for group, (res, offset, weight) in enumerate(
                zip(images, offsets, instance_weights(self.mode, lam)))
        ]
        gts = cat_gts(gts)
        if not any('gt_ignore_flags' in res for res in images):
            del gts['gt_ignore_flags']
        results.update(gts, img=img, img_shape=img.shape[:2], mix_lambda=lam)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode!r}, '
                f'alpha={self.alpha}, prob={self.prob}, '
                f'noise_range={self.noise_range}, '
                f'cache_size={self.cache_size})')


# what a cached sample keeps: what mixing and the same-view check read
_CACHED_KEYS = ('img', 'img_path', 'img_id', 'flip', 'flip_direction',
                'gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks')


def _check_cache_size(cache_size) -> int:
    """``cache_size`` as an int >= 0 (None: 0)."""
    if cache_size is None:
        return 0
    if (isinstance(cache_size, bool)
            or not isinstance(cache_size, numbers.Integral) or cache_size < 0):
        raise ValueError('cache_size must be an int >= 0 (0 or None: load '
                         f'the partner), got {cache_size!r}')
    return int(cache_size)


def mix_images(img_a: np.ndarray, img_b: np.ndarray,
               lam: float) -> Tuple[np.ndarray, tuple]:
    """Centre-align two images on a zero canvas and blend them.

    Args:
        img_a (np.ndarray): (Ha, Wa) or (Ha, Wa, C) own image.
        img_b (np.ndarray): (Hb, Wb) or (Hb, Wb, C') partner image; a
            single-channel image is repeated to match a colour one.
        lam (float): coefficient of ``img_a``; ``img_b`` gets 1 - lam.

    Returns:
        tuple: the float32 (max H, max W, C) image and the (x, y) offsets of
        ``img_a`` and ``img_b`` on it.
    """
    img_a = img_a if img_a.ndim == 3 else img_a[..., None]
    img_b = img_b if img_b.ndim == 3 else img_b[..., None]
    ca, cb = img_a.shape[2], img_b.shape[2]
    if ca != cb:
        if min(ca, cb) != 1:
            raise ValueError('cannot mix images with channels '
                             f'{ca} and {cb}')
        channels = max(ca, cb)
    else:
        channels = ca
    (height, width), *offsets = centre_offsets(img_a.shape[:2],
                                               img_b.shape[:2])
    canvas = np.zeros((height, width, channels), dtype=np.float32)
    for img, coeff, (ox, oy) in zip((img_a, img_b), (lam, 1.0 - lam), offsets):
        h, w = img.shape[:2]
        if coeff > 0:
            canvas[oy:oy + h,
                   ox:ox + w] += np.float32(coeff) * img.astype(np.float32)
    return canvas, tuple(offsets)


def check_pair(results: dict, partner: Optional[dict]) -> None:
    """Refuse a pair that cannot be mixed.

    Args:
        results (dict): the sample's results.
        partner (dict, optional): the partner's results.

    Raises:
        ValueError: when only one image has masks, or an image was mixed
            already (its weights would be overwritten).
    """
    if partner is not None and (('gt_masks' in results) != ('gt_masks'
                                                            in partner)):
        raise ValueError('gt_masks on only one of the two images: load '
                         'masks for every image or for none')
    for which, res in (('own', results), ('partner', partner or {})):
        if 'mix_lambda' in res:
            raise ValueError(
                f'the {which} image {res.get("img_path")!r} is already '
                'mixed (mix_lambda): LossMixPair mixes unmixed samples; run '
                'it once per sample')


def image_gts(results: dict, offset: Tuple[int, int],
              canvas_hw: Tuple[int, int], weight: float, group: int) -> dict:
    """One image's gts, clipped to the image and moved onto the canvas.

    A box is clipped to its own image first (a bad annotation outside the
    image must not land on the other image's pixels); a box with no area
    left is dropped with its label, ignore flag and mask.

    Args:
        results (dict): the image's results (only read).
        offset (tuple[int, int]): (x, y) of the image on the canvas.
        canvas_hw (tuple[int, int]): (H, W) of the canvas.
        weight (float): the image's instance weight, which multiplies each
            box's ``loss_weights``.
        group (int): ``mix_group`` of the image's boxes.

    Returns:
        dict: ``gt_bboxes`` (LossMixBoxes), ``gt_bboxes_labels``,
        ``gt_ignore_flags`` and, if the image has them, ``gt_masks``.
    """
    img_hw = results['img'].shape[:2]
    boxes = LossMixBoxes.from_boxes(results['gt_bboxes']).clone()
    boxes.clip_(img_hw)
    has_area = ((boxes.widths > 0) & (boxes.heights > 0)).numpy()
    keep = np.flatnonzero(has_area)
    if not has_area.all():
        boxes = boxes[keep]
    if any(offset):
        boxes.translate_(offset)
    boxes.loss_weights = boxes.loss_weights * weight
    boxes.mix_group = torch.full((len(boxes), ), group, dtype=torch.int64)
    labels = np.asarray(results['gt_bboxes_labels'], dtype=np.int64)
    gts = dict(
        gt_bboxes=boxes,
        gt_bboxes_labels=labels.reshape(-1)[keep],
        gt_ignore_flags=_ignore_flags(results, len(labels))[keep])
    if 'gt_masks' in results:
        gts['gt_masks'] = place_masks(results['gt_masks'][keep], img_hw,
                                      canvas_hw, offset)
    return gts


def cat_gts(gts: Sequence[dict]) -> dict:
    """Concatenate images' gts in order, dropping those of weight 0.

    Args:
        gts (Sequence[dict]): each image's gts (:func:`image_gts`).

    Returns:
        dict: the same keys, concatenated.
    """
    out = dict(
        gt_bboxes=LossMixBoxes.cat([g['gt_bboxes'] for g in gts]),
        gt_bboxes_labels=np.concatenate([g['gt_bboxes_labels'] for g in gts]),
        gt_ignore_flags=np.concatenate([g['gt_ignore_flags'] for g in gts]))
    if 'gt_masks' in gts[0]:
        out['gt_masks'] = cat_masks([g['gt_masks'] for g in gts])
    positive = out['gt_bboxes'].loss_weights.numpy() > 0
    if positive.all():
        return out
    keep = np.flatnonzero(positive)
    return {key: value[keep] for key, value in out.items()}


def box_array(boxes) -> np.ndarray:
    """(N, D) float32 numpy view of ``BaseBoxes`` or an (N, 4) array."""
    if isinstance(boxes, BaseBoxes):
        return boxes.tensor.detach().cpu().numpy().astype(
            np.float32, copy=False)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def check_gt_boxes(results: dict, which: str) -> None:
    """Refuse gt boxes that cannot be trained on.

    A box with a coordinate that is not finite or with width or height
    <= 0 (zero-area or inverted: the box coders take the log of its size, a
    NaN or inf loss in stock mmdet too) raises. Boxes partly or wholly
    outside their image pass (mixing clips them to their image; unmixed,
    they stay as stock mmdet keeps them). Only finiteness is checked for
    box types other than horizontal boxes.

    Args:
        results (dict): one image's results (``gt_bboxes``, optional
            ``img_path``).
        which (str): ``'own'`` or ``'partner'``, for the message.

    Raises:
        ValueError: naming the image, the box index and its coordinates.
    """
    boxes = results['gt_bboxes']
    arr = box_array(boxes)
    if not len(arr):
        return
    problems = [(~np.isfinite(arr).all(axis=1), 'not finite')]
    if not isinstance(boxes, BaseBoxes) or isinstance(boxes, HorizontalBoxes):
        x1, y1, x2, y2 = arr.T
        problems += [((x2 <= x1) | (y2 <= y1),
                      'zero-area or inverted (x2 <= x1 or y2 <= y1)')]
    for bad, what in problems:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f'LossMixPair: gt box {i} {arr[i].tolist()} of the {which} '
                f'image {results.get("img_path")!r} is {what}; drop or fix '
                'such boxes before LossMixPair (e.g. FilterAnnotations'
                '(min_gt_bbox_wh=(1, 1)) in the inner pipeline), or fix the '
                'annotation')


def check_finite_pixels(results: dict, which: str = 'image') -> None:
    """Raise if a floating-point ``results['img']`` has a NaN or inf.

    One sum over the image; the element-wise pass that names the bad
    pixels runs only when the sum is not finite. uint8 images and images
    that are not numpy arrays are not read.

    Args:
        results (dict): with optional ``img`` and ``img_path``.
        which (str): how the message names the image.

    Raises:
        ValueError: naming the image, how many values are bad and the
            first one's (row, column).
    """
    img = results.get('img')
    if not isinstance(img, np.ndarray) or \
            not np.issubdtype(img.dtype, np.floating):
        return
    if np.isfinite(img.sum()):  # overflow aside, finite iff all are
        return
    bad = ~np.isfinite(img)
    if not bad.any():  # the sum overflowed
        return
    first = tuple(np.argwhere(bad)[0].tolist())
    raise ValueError(
        f'{which} {results.get("img_path")!r} has {int(bad.sum())} NaN or '
        f'inf pixel values, the first at (row, column) {first[:2]}: '
        f'{float(img[first])}')


def _same_view(results: dict, partner: dict) -> bool:
    """Whether the partner is the same file, flipped the same way."""
    keys = ('img_path', 'flip', 'flip_direction')
    return results.get('img_path') is not None and all(
        results.get(k) == partner.get(k) for k in keys)


def _ignore_flags(results: dict, num: int) -> np.ndarray:
    flags: Optional[np.ndarray] = results.get('gt_ignore_flags')
    if flags is None:
        return np.zeros(num, dtype=bool)
    return np.asarray(flags, dtype=bool)
