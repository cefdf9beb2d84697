"""Packing of LossMix samples into mmdet's data samples."""
from typing import Optional, Sequence

import numpy as np

from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from ...mixing.args import check_mix_lambda, check_mix_mode
from .lossmix_pair import GTS_RECORD_KEY, box_array, check_finite_pixels

# the per-instance LossMix keys, in the order they are checked
MIX_INSTANCE_KEYS = ('gt_loss_weights', 'gt_mix_group')
# the metainfo LossMix keys, always packed
MIX_META_KEYS = ('mix_lambda', 'mix_mode')

MOVED_HINT = (
    'a transform between LossMixPair and PackLossMixInputs dropped or added '
    'boxes (FilterAnnotations, RandomCrop, RandomAffine, MinIoURandomCrop, '
    'RandomCenterCropPad, Mosaic, MixUp, ...) and the weights cannot follow '
    'them: run it before LossMixPair (in the pipeline of the dataset inside '
    'MultiImageMixDataset); only a transform that drops boxes without moving '
    'them (FilterAnnotations) may run right after LossMixPair')


@TRANSFORMS.register_module()
class PackLossMixInputs(PackDetInputs):
    """``PackDetInputs`` that also packs LossMix's per-instance fields.

    ``gt_loss_weights`` and ``gt_mix_group`` become
    ``gt_instances.loss_weights`` (float32) and ``gt_instances.mix_group``
    (int64), split with the boxes between ``gt_instances`` and
    ``ignored_instances`` like every other instance key; ``mix_lambda``
    (coefficient of the sample's own image) and ``mix_mode`` (``'lossmix'``,
    ``'union'`` or ``'noise'``: how the instances were weighted, read by the
    heads' exact mode) go to the metainfo, whatever ``meta_keys`` says. On
    results without these keys it packs exactly what ``PackDetInputs`` packs.

    Checks (each raises one ``ValueError`` naming the bad value):

    - the weight fields have one entry per box. mmdet's box-dropping
      transforms know nothing of them; when one ran after ``LossMixPair``
      and dropped boxes without moving them (``FilterAnnotations``), the
      weights and groups are re-aligned by matching the boxes and labels
      left to those ``LossMixPair`` wrote (``lossmix_gts``), in order. Boxes
      that were also moved (crops, affine warps) or added (``Mosaic``,
      ``MixUp``) cannot be matched: the error says to run that transform
      before ``LossMixPair``. Equal counts with labels that differ from the
      written ones (boxes replaced) raise too.
    - ``gt_loss_weights`` finite and > 0 (as the LossMix heads require),
      ``gt_mix_group`` 0 or 1, ``mix_lambda`` in [0, 1], ``mix_mode`` a
      known mode, and ``mix_lambda`` present when a gt has group 1 (exact
      mode would otherwise read lam as 1 and drop the partner's gts).
    - a floating-point image has no NaN or inf pixel: one sum over the
      image (about 3 ms for 1333x800x3 float32), an element-wise pass only
      to name the bad pixels. uint8 images (they cannot hold NaN) are not
      read; nor are pixels on the device (``BatchLossMix``): its inputs
      passed this check.

    Required Keys: as ``PackDetInputs``; optional ``gt_loss_weights``,
    ``gt_mix_group``, ``mix_lambda``, ``mix_mode``, ``lossmix_gts``.

    Added Keys: ``inputs``, ``data_samples``.

    Args:
        meta_keys (Sequence[str]): metainfo keys; ``PackDetInputs``' default
            plus ``'mix_lambda'`` and ``'mix_mode'``, which are added when
            missing.
    """
    mapping_table = dict(
        PackDetInputs.mapping_table,
        gt_loss_weights='loss_weights',
        gt_mix_group='mix_group')

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_id', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'scale_factor', 'flip',
                                             'flip_direction', 'mix_lambda',
                                             'mix_mode')) -> None:
        meta_keys = tuple(meta_keys)
        super().__init__(meta_keys=meta_keys + tuple(
            k for k in MIX_META_KEYS if k not in meta_keys))

    def transform(self, results: dict) -> dict:
        """Check, re-align the LossMix fields if needed, then pack.

        Args:
            results (dict): the pipeline's results (not modified).

        Returns:
            dict: ``inputs`` and ``data_samples``, as ``PackDetInputs``.
        """
        check_finite_pixels(results, 'PackLossMixInputs: image')
        if any(k in results for k in MIX_INSTANCE_KEYS + MIX_META_KEYS):
            results = check_mix_fields(align_mix_fields(results))
        return super().transform(results)


def align_mix_fields(results: dict) -> dict:
    """The weight fields with exactly one entry per box.

    Args:
        results (dict): with ``gt_bboxes`` / ``gt_bboxes_labels`` and some
            of ``gt_loss_weights``, ``gt_mix_group``; optional
            ``lossmix_gts`` (written by ``LossMixPair``).

    Returns:
        dict: ``results`` itself when the fields are aligned, else a
        shallow copy with re-aligned fields.

    Raises:
        ValueError: when the fields cannot be aligned (see
            :class:`PackLossMixInputs`).
    """
    keys = [k for k in MIX_INSTANCE_KEYS if k in results]
    if not keys:
        return results
    if 'gt_bboxes_labels' in results:
        labels = np.asarray(results['gt_bboxes_labels']).reshape(-1)
    elif 'gt_bboxes' in results:
        labels = None
    else:
        raise ValueError(f'{keys} without gt_bboxes: nothing to weigh')
    num = len(labels) if labels is not None else len(results['gt_bboxes'])
    for key in keys:
        if np.ndim(results[key]) != 1:
            raise ValueError(f'{key} must be 1-D, one entry per box, got '
                             f'shape {np.shape(results[key])}')
    lengths = {key: len(results[key]) for key in keys}
    record = results.get(GTS_RECORD_KEY)
    if all(n == num for n in lengths.values()):
        if record is not None and labels is not None and \
                len(record['labels']) == num and \
                not np.array_equal(record['labels'], labels):
            raise ValueError(
                f'the gt labels {labels.tolist()} differ from those '
                f'LossMixPair wrote {record["labels"].tolist()}: {MOVED_HINT}')
        return results
    counts = ', '.join(f'{k} has {n} entries' for k, n in lengths.items())
    if record is None or labels is None or any(
            n != len(record['labels']) for n in lengths.values()):
        raise ValueError(f'{counts} for {num} boxes: the LossMix '
                         'weight fields need one entry per box (from '
                         f'LossMixPair); {MOVED_HINT}')
    inds = match_kept_gts(
        box_array(results['gt_bboxes']), labels, record['bboxes'],
        record['labels'],
        np.stack([np.asarray(results[k], np.float64) for k in keys], 1))
    if inds is None:
        raise ValueError(f'{counts} for {num} boxes, and the boxes '
                         'left are not a subset of those LossMixPair wrote '
                         f'(moved, added or ambiguous): {MOVED_HINT}')
    results = dict(results)
    for key in keys:
        results[key] = np.asarray(results[key])[inds]
    return results


def match_kept_gts(boxes: np.ndarray, labels: np.ndarray,
                   written_boxes: np.ndarray, written_labels: np.ndarray,
                   values: np.ndarray) -> Optional[np.ndarray]:
    """Which of the written gts are the M gts left, in order.

    A gt left matches a written one with exactly the same coordinates and
    label; matching goes in order (mmdet's transforms keep the order of the
    boxes they keep). When a matched gt has an unmatched twin (same box and
    label) whose values differ, the match is ambiguous.

    Args:
        boxes (np.ndarray): (M, D) boxes left.
        labels (np.ndarray): (M, ) their labels.
        written_boxes (np.ndarray): (N, D) boxes written, N >= M.
        written_labels (np.ndarray): (N, ) their labels.
        values (np.ndarray): (N, K) the per-box values to carry (weights,
            groups), to detect ambiguity.

    Returns:
        np.ndarray or None: (M, ) increasing indices into the written gts,
        None when the gts left are not an ordered subset of them or the
        match is ambiguous.
    """
    if boxes.shape[1:] != written_boxes.shape[1:] or \
            len(boxes) > len(written_boxes):
        return None
    inds, j = [], 0
    for box, label in zip(boxes, labels):
        while j < len(written_boxes) and not (
                written_labels[j] == label
                and np.array_equal(written_boxes[j], box)):
            j += 1
        if j == len(written_boxes):
            return None
        inds.append(j)
        j += 1
    inds = np.asarray(inds, dtype=np.int64)
    unmatched = np.setdiff1d(np.arange(len(written_boxes)), inds)
    for i in inds:
        for k in unmatched:
            if written_labels[k] == written_labels[i] and np.array_equal(
                    written_boxes[k], written_boxes[i]) and \
                    not np.array_equal(values[k], values[i]):
                return None
    return inds


def check_mix_fields(results: dict) -> dict:
    """Check the values of the LossMix keys (lengths already aligned).

    Args:
        results (dict): optional ``gt_loss_weights``, ``gt_mix_group``,
            ``mix_lambda``, ``mix_mode``.

    Returns:
        dict: ``results``.

    Raises:
        ValueError: naming the bad values.
    """
    if 'gt_loss_weights' in results:
        weights = np.asarray(results['gt_loss_weights'], dtype=np.float64)
        if not (np.isfinite(weights) & (weights > 0)).all():
            raise ValueError('gt_loss_weights must be finite and > 0 (drop '
                             f'instances of weight 0), got {weights.tolist()}')
    groups = None
    if 'gt_mix_group' in results:
        groups = np.asarray(results['gt_mix_group'])
        if not np.isin(groups, (0, 1)).all():
            raise ValueError('gt_mix_group must be 0 (own image) or 1 '
                             f'(partner), got {groups.tolist()}')
    if 'mix_lambda' in results:
        check_mix_lambda(results['mix_lambda'])
    elif groups is not None and (groups == 1).any():
        raise ValueError(f'{int((groups == 1).sum())} gts of mix_group 1 '
                         '(partner image) but no mix_lambda in the results '
                         f'of {results.get("img_path")!r}')
    if 'mix_mode' in results:
        check_mix_mode(results['mix_mode'], 'mix_mode')
    return results
