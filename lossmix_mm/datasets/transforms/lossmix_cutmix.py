"""CutMix for detection: a region of a partner image pasted onto a sample,
each box weighted by what the patch leaves of it."""
import math
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from ...mixing.args import check_alpha, check_fraction, check_region_mode
from ...mixing.masks import mask_pixels, mask_visible
from ...structures import LossMixBoxes
from .lossmix_pair import _ignore_flags, _same_view

__all__ = ['LossMixCutMix']

Region = Tuple[int, int, int, int]


@TRANSFORMS.register_module()
class LossMixCutMix(BaseTransform):
    """Paste a rectangle of a partner image onto a sample (CutMix).

    The partner comes from mmdet's ``MultiImageMixDataset`` (``get_indexes``
    and ``results['mix_results']``, as mmdet's ``MixUp``). It is resized to
    the own image's size (``mmcv.imresize`` to the own (w, h), boxes
    ``rescale_``-d by (sx, sy), masks resized), then its pixels inside the
    patch (:meth:`sample_patch`) replace the own image's. Image size, dtype
    and channels stay the own image's: a colour partner on a grayscale
    image is converted with ``mmcv.bgr2gray``, a grayscale partner on a
    colour image with ``mmcv.gray2bgr``; other channel counts raise.

    ``mode='lossmix'``: a pasted region is not a blend, so every box keeps
    its coefficient ``loss_weights`` (c = 1 here) and ``mix_group`` 0, no
    ``mix_lambda`` is written, and ``visible`` (v) is multiplied by the
    share of the box still seen: own boxes ``occlude_`` the patch, partner
    boxes ``clip_to_`` it. With ``gt_masks`` v is the mask's share instead:
    the box's v before this transform times mask pixels after / mask
    pixels before (the box-based v for a mask without pixels). Boxes with
    v 0 are removed with their labels, ignore flags and masks. The boxes
    become :class:`LossMixBoxes` (``PackLossMixInputs`` makes ``c * v``).

    ``mode='union'``: the same pixels and geometry, every box weight 1:
    own boxes all kept and untouched, partner boxes clipped to the patch
    and kept if they overlap it, box types and fields as they came.

    Masks in both modes: own masks lose the patch's pixels, partner masks
    keep only the patch's pixels. Only ``BitmapMasks`` (load with
    ``poly2mask=True``); ``PolygonMasks`` raise ``ValueError``.

    Random draws, all from ``np.random`` in this order: ``get_indexes``
    draws ``rand()`` (only when ``prob < 1``) then ``randint`` (the
    partner); :meth:`sample_patch` draws ``beta(alpha, alpha)`` then the
    centre's x then y (``uniform``).

    Required Keys:

    - img, gt_bboxes, gt_bboxes_labels
    - gt_ignore_flags, gt_masks (optional)
    - mix_results (list[dict]): the partner, [] = no mix

    Modified Keys:

    - img, gt_bboxes, gt_bboxes_labels, gt_ignore_flags, gt_masks

    Args:
        alpha (float): the patch covers r ~ Beta(alpha, alpha) of the own
            image's area (before clipping to the image). Defaults to 1.
        prob (float): probability of mixing a sample. Defaults to 1.
        mode (str): ``'lossmix'`` or ``'union'``. Defaults to
            ``'lossmix'``.
        bbox_clip_border (bool): whether partner boxes are clipped to the
            patch (their v is the share inside it either way). Defaults to
            True.
    """

    def __init__(self,
                 alpha: float = 1.0,
                 prob: float = 1.0,
                 mode: str = 'lossmix',
                 bbox_clip_border: bool = True) -> None:
        self.alpha = check_alpha(alpha)
        self.prob = check_fraction(prob, 'prob')
        self.mode = check_region_mode(mode)
        if not isinstance(bbox_clip_border, bool):
            raise ValueError('bbox_clip_border must be True or False, got '
                             f'{bbox_clip_border!r}')
        self.bbox_clip_border = bbox_clip_border

    def get_indexes(self, dataset) -> List[int]:
        """Index of the partner image, or [] to leave this sample unmixed.

        Args:
            dataset: the dataset wrapped by ``MultiImageMixDataset``.

        Returns:
            list[int]: one index, or none (nothing extra is loaded).
        """
        if self.prob < 1 and np.random.rand() >= self.prob:
            return []
        return [int(np.random.randint(0, len(dataset)))]

    def sample_patch(self, h: int, w: int) -> Region:
        """Draw the patch: area ratio r ~ Beta(alpha, alpha), the image's
        aspect, centre uniform in the image, clipped to it.

        Args:
            h (int): height of the own image.
            w (int): width of the own image.

        Returns:
            tuple[int, int, int, int]: (x1, y1, x2, y2) in pixels, with
            0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h.
        """
        side = math.sqrt(float(np.random.beta(self.alpha, self.alpha)))
        cx, cy = np.random.uniform(0, w), np.random.uniform(0, h)
        half_w, half_h = w * side / 2, h * side / 2
        x1, x2 = (
            int(round(min(max(v, 0.0), w)))
            for v in (cx - half_w, cx + half_w))
        y1, y2 = (
            int(round(min(max(v, 0.0), h)))
            for v in (cy - half_h, cy + half_h))
        return x1, y1, x2, y2

    def transform(self, results: dict) -> dict:
        """Paste a patch of ``results['mix_results'][0]`` (if any)."""
        if 'mix_results' not in results:
            raise KeyError(
                'LossMixCutMix needs results["mix_results"]: wrap the '
                "dataset in mmdet's MultiImageMixDataset")
        mix_results = results['mix_results']
        partner = mix_results[0] if mix_results else None
        check_cutmix_pair(results, partner)
        if partner is None or _same_view(results, partner):
            if self.mode == 'lossmix':
                results['gt_bboxes'] = LossMixBoxes.from_boxes(
                    results['gt_bboxes'])
            return results
        h, w = results['img'].shape[:2]
        return self.cut(results, partner, self.sample_patch(h, w))

    def cut(self, results: dict, partner: dict, region: Region) -> dict:
        """Paste ``region`` of the resized partner onto ``results``.

        Args:
            results (dict): the sample; modified and returned.
            partner (dict): the partner's results, only read.
            region (tuple[int, int, int, int]): the patch (x1, y1, x2, y2).

        Returns:
            dict: ``results`` with the keys listed in the class docstring.
        """
        x1, y1, x2, y2 = region
        img = results['img']
        pasted = resize_partner(partner, img.shape[:2])
        out = img.copy()
        out[y1:y2, x1:x2] = match_channels(pasted['img'], img)[y1:y2, x1:x2]
        own = own_gts(results, region, self.mode)
        other = partner_gts(pasted, region, self.mode, self.bbox_clip_border)
        if 'gt_masks' in results:
            other['gt_masks'] = place_masks_in(other['gt_masks'],
                                               own['gt_masks'])
        results.update(cat_gts(own, other), img=out)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(alpha={self.alpha}, '
                f'prob={self.prob}, mode={self.mode!r}, '
                f'bbox_clip_border={self.bbox_clip_border})')


def check_cutmix_pair(results: dict, partner: Optional[dict]) -> None:
    """Refuse a pair that cannot be cut and pasted.

    Args:
        results (dict): the sample's results.
        partner (dict, optional): the partner's results.

    Raises:
        ValueError: when an image is blended already (``mix_lambda``: its
            ``mix_group`` 1 boxes would lose their group), or only one
            image has masks.
    """
    for which, res in (('own', results), ('partner', partner or {})):
        if 'mix_lambda' in res:
            raise ValueError(
                f'the {which} image {res.get("img_path")!r} is blended '
                'already (mix_lambda): run LossMixCutMix before blends '
                '(LossMixPair, LossMixMixUp)')
    if partner is None:
        return
    if ('gt_masks' in results) != ('gt_masks' in partner):
        raise ValueError('gt_masks on only one of the two images: load '
                         'masks for every image or for none')


def match_channels(img: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``img`` with the channels of ``like`` (both BGR or grayscale).

    Args:
        img (np.ndarray): (H, W) or (H, W, C) image.
        like (np.ndarray): (H', W') or (H', W', C') image.

    Returns:
        np.ndarray: ``img`` as (H, W) or (H, W, C'), like ``like``.

    Raises:
        ValueError: when the channels cannot be converted (neither is 1).
    """
    c_img = img.shape[2] if img.ndim == 3 else 1
    c_like = like.shape[2] if like.ndim == 3 else 1
    if c_img != c_like:
        if c_img == 3 and c_like == 1:
            img = mmcv.bgr2gray(img, keepdim=True)
        elif c_img == 1 and c_like == 3:
            img = mmcv.gray2bgr(img.reshape(img.shape[:2]))
        else:
            raise ValueError(f'cannot paste an image of {c_img} channels '
                             f'onto one of {c_like} (1 and 3 convert)')
    return img.reshape(img.shape[:2] + like.shape[2:])


def resize_partner(partner: dict, hw: Tuple[int, int]) -> dict:
    """The partner's image, gts and masks resized to (h, w) (copies).

    Args:
        partner (dict): the partner's results (only read).
        hw (tuple[int, int]): (h, w) of the own image.

    Returns:
        dict: ``img``, ``gt_bboxes`` (the partner's type, or an (N, 4)
        float32 array), ``gt_bboxes_labels``, ``gt_ignore_flags`` and,
        with masks, ``gt_masks`` ((h, w) ``BitmapMasks``).
    """
    (h, w), img = hw, partner['img']
    hp, wp = img.shape[:2]
    boxes = partner['gt_bboxes']
    boxes = boxes.clone() if isinstance(boxes, BaseBoxes) else \
        HorizontalBoxes(np.asarray(boxes, np.float32).reshape(-1, 4))
    if (hp, wp) != (h, w):
        img = mmcv.imresize(img, (w, h))
        boxes.rescale_((w / wp, h / hp))
    labels = np.asarray(partner['gt_bboxes_labels'], np.int64).reshape(-1)
    out = dict(
        img=img,
        gt_bboxes=boxes,
        gt_bboxes_labels=labels,
        gt_ignore_flags=_ignore_flags(partner, len(labels)))
    if 'gt_masks' in partner:
        masks = _bitmap(partner['gt_masks'])
        if masks.height < hp or masks.width < wp:
            raise ValueError('partner masks of (h, w) '
                             f'{(masks.height, masks.width)} are smaller '
                             f'than its image {(hp, wp)}')
        masks = BitmapMasks(masks.masks[:, :hp, :wp], hp, wp)
        out['gt_masks'] = masks.resize((h, w)) if (hp, wp) != (h, w) \
            else masks
    return out


def own_gts(results: dict, region: Region, mode: str) -> dict:
    """The own image's gts under the patch (copies).

    Args:
        results (dict): the own image's results (only read).
        region (tuple[int, int, int, int]): the patch (x1, y1, x2, y2).
        mode (str): ``'lossmix'`` (``occlude_``, drop v 0) or ``'union'``
            (boxes untouched, all kept).

    Returns:
        dict: ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags`` and,
        with masks, ``gt_masks`` without the patch's pixels.
    """
    x1, y1, x2, y2 = region
    boxes = results['gt_bboxes']
    labels = np.asarray(results['gt_bboxes_labels'], np.int64).reshape(-1)
    gts = dict(
        gt_bboxes=boxes,
        gt_bboxes_labels=labels,
        gt_ignore_flags=_ignore_flags(results, len(labels)))
    masks = before = None
    if 'gt_masks' in results:
        before = _bitmap(results['gt_masks']).masks
        masks = before.copy()
        masks[:, y1:y2, x1:x2] = 0
        gts['gt_masks'] = BitmapMasks(masks, *masks.shape[1:])
    if mode == 'union':
        return gts
    boxes = LossMixBoxes.from_boxes(boxes).clone()
    carried = boxes.visible  # occlude_ sets a new storage, this one stays
    boxes.occlude_(region)
    boxes.mix_group = None  # all 0: a pasted region is not a blend
    gts['gt_bboxes'] = boxes
    if masks is not None:
        boxes.visible = mask_visible(
            mask_pixels(before), masks, carried, boxes.visible)
    return _keep_visible(gts)


def partner_gts(pasted: dict, region: Region, mode: str, clip: bool) -> dict:
    """The resized partner's gts inside the patch.

    Args:
        pasted (dict): :func:`resize_partner`'s output (its boxes are
            modified).
        region (tuple[int, int, int, int]): the patch (x1, y1, x2, y2).
        mode (str): ``'lossmix'`` (v = share inside the patch, drop v 0)
            or ``'union'`` (fields untouched, kept if overlapping it).
        clip (bool): whether the boxes are clipped to the patch.

    Returns:
        dict: ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags`` and,
        with masks, ``gt_masks`` keeping only the patch's pixels.
    """
    x1, y1, x2, y2 = region
    gts = {key: value for key, value in pasted.items() if key != 'img'}
    boxes = gts['gt_bboxes']
    inside = HorizontalBoxes(boxes.tensor.clone())
    inside.tensor[:, 0::2] = inside.tensor[:, 0::2].clamp(x1, x2)
    inside.tensor[:, 1::2] = inside.tensor[:, 1::2].clamp(y1, y2)
    overlaps = ((inside.widths > 0) & (inside.heights > 0)).numpy()
    before = after = None
    if 'gt_masks' in gts:
        before = gts['gt_masks'].masks
        after = np.zeros_like(before)
        after[:, y1:y2, x1:x2] = before[:, y1:y2, x1:x2]
        gts['gt_masks'] = BitmapMasks(after, *after.shape[1:])
    if mode == 'lossmix':
        boxes = LossMixBoxes.from_boxes(boxes)
        boxes.mix_group = None  # all 0: a pasted region is not a blend
        carried = boxes.visible  # the setter below makes a new storage
        clipped = boxes.clone()
        clipped.clip_to_(region)
        boxes.visible = clipped.visible
        if after is not None:
            boxes.visible = mask_visible(
                mask_pixels(before), after, carried, boxes.visible)
        overlaps &= boxes.visible.numpy() > 0
    if clip:
        boxes.tensor = inside.tensor.to(boxes.tensor)
    gts['gt_bboxes'] = boxes
    keep = np.flatnonzero(overlaps)
    return {key: value[keep] for key, value in gts.items()}


def place_masks_in(masks: BitmapMasks, like: BitmapMasks) -> BitmapMasks:
    """(h, w) masks placed at the top-left of masks of ``like``'s size.

    Args:
        masks (BitmapMasks): the partner's masks at the own image's size.
        like (BitmapMasks): the own masks (their size may exceed the image's
            after padding).

    Returns:
        BitmapMasks: ``masks`` of ``like``'s height and width.
    """
    if (masks.height, masks.width) == (like.height, like.width):
        return masks
    return masks.expand(like.height, like.width, 0, 0)


def cat_gts(own: dict, other: dict) -> dict:
    """Own and partner gts concatenated, own first.

    Args:
        own (dict): :func:`own_gts`'s output.
        other (dict): :func:`partner_gts`'s output.

    Returns:
        dict: the same keys; boxes of the own boxes' type (an array for
        arrays).
    """
    boxes, others = own['gt_bboxes'], other['gt_bboxes']
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.cat([boxes, others])
    else:
        boxes = np.concatenate([
            np.asarray(boxes, np.float32).reshape(-1, 4),
            others.numpy().astype(np.float32)
        ])
    out = dict(
        gt_bboxes=boxes,
        gt_bboxes_labels=np.concatenate(
            [own['gt_bboxes_labels'], other['gt_bboxes_labels']]),
        gt_ignore_flags=np.concatenate(
            [own['gt_ignore_flags'], other['gt_ignore_flags']]))
    if 'gt_masks' in own:
        out['gt_masks'] = BitmapMasks.cat([own['gt_masks'], other['gt_masks']])
    return out


def _keep_visible(gts: dict) -> dict:
    """``gts`` without the boxes of ``visible`` 0."""
    visible = gts['gt_bboxes'].visible.numpy() > 0
    if visible.all():
        return gts
    keep = np.flatnonzero(visible)
    return {key: value[keep] for key, value in gts.items()}


def _bitmap(masks) -> BitmapMasks:
    """``masks`` if they are ``BitmapMasks``, else a clear error."""
    if not isinstance(masks, BitmapMasks):
        raise ValueError('LossMixCutMix measures masks in pixels: it takes '
                         f'BitmapMasks, got {type(masks).__name__} (load '
                         'them with LoadAnnotations(poly2mask=True))')
    return masks
