"""Packing of LossMix samples into mmdet's data samples."""
from typing import Sequence

import numpy as np

from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from ...mixing.args import check_mix_lambda, check_mix_mode
from ...structures import LossMixBoxes
from .lossmix_pair import check_finite_pixels

# the per-box fields of LossMixBoxes and the results keys they are staged
# in for PackDetInputs' split between gt and ignored instances
BOX_FIELD_KEYS = dict(
    loss_weights='gt_loss_weights',
    mix_group='gt_mix_group',
    reg_weights='gt_reg_weights')
MIX_INSTANCE_KEYS = tuple(BOX_FIELD_KEYS.values())
# the metainfo LossMix keys, always packed
MIX_META_KEYS = ('mix_lambda', 'mix_mode')

LOST_FIELDS_HINT = (
    'a transform after LossMixPair replaced its LossMixBoxes by plain boxes '
    'and the per-box weights were lost: load every image with '
    "LoadAnnotations(box_type='lossmix_hbox') (MixUp, CachedMixUp and "
    "CopyPaste concatenate on the partner's box type), and run transforms "
    'that rebuild boxes (RandomErasing, RandomCrop(recompute_bbox=True)) '
    'before LossMixPair')


@TRANSFORMS.register_module()
class PackLossMixInputs(PackDetInputs):
    """``PackDetInputs`` that also packs LossMix's per-box fields.

    ``gt_bboxes`` given as :class:`LossMixBoxes` are packed as the plain
    ``HorizontalBoxes`` stock ``PackDetInputs`` gives, and their fields
    become ``gt_instances.loss_weights`` (float32), ``gt_instances.mix_group``
    (int64) and, only when some box has a regression weight other than 1,
    ``gt_instances.reg_weights`` (float32; absent means all ones), split
    with the boxes between ``gt_instances`` and ``ignored_instances``.
    Hand-built results with plain boxes may give the fields as the keys
    ``gt_loss_weights``, ``gt_mix_group``, ``gt_reg_weights`` instead, one
    entry per box. ``mix_lambda`` (coefficient of the sample's own image)
    and ``mix_mode`` go to the metainfo, whatever ``meta_keys`` says. On
    results without any of these it packs exactly what ``PackDetInputs``
    packs.

    Checks (each raises one ``ValueError`` naming the bad value):

    - a mixed sample (``mix_lambda`` present) whose boxes lost their fields
      (plain boxes, no field keys): load with ``box_type='lossmix_hbox'``.
    - weights finite and > 0, regression weights finite and >= 0, groups
      0 or 1, ``mix_lambda`` a number in [0, 1] (not a string),
      ``mix_mode`` a known mode, and ``mix_lambda`` present when a gt has
      group 1.
    - a floating-point image has no NaN or inf pixel (uint8 ones are not
      read).

    Required Keys: as ``PackDetInputs``; optional ``mix_lambda``,
    ``mix_mode``, ``gt_loss_weights``, ``gt_mix_group``, ``gt_reg_weights``.

    Added Keys: ``inputs``, ``data_samples``.

    Args:
        meta_keys (Sequence[str]): metainfo keys; ``PackDetInputs``' default
            plus ``'mix_lambda'`` and ``'mix_mode'``, which are added when
            missing.
    """
    mapping_table = dict(
        PackDetInputs.mapping_table,
        **{key: field for field, key in BOX_FIELD_KEYS.items()})

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
        """Check, unpack the box fields, then pack.

        Args:
            results (dict): the pipeline's results (not modified).

        Returns:
            dict: ``inputs`` and ``data_samples``, as ``PackDetInputs``.
        """
        check_finite_pixels(results, 'PackLossMixInputs: image')
        results = unpack_box_fields(results)
        if any(k in results for k in MIX_INSTANCE_KEYS + MIX_META_KEYS):
            results = check_mix_fields(results)
        return super().transform(results)


def unpack_box_fields(results: dict) -> dict:
    """Stage the fields of ``LossMixBoxes`` as results keys.

    Args:
        results (dict): the pipeline's results.

    Returns:
        dict: ``results`` itself when there is nothing to unpack, else a
        shallow copy with plain ``HorizontalBoxes`` and the field keys
        (``gt_reg_weights`` only when a regression weight is not 1).

    Raises:
        ValueError: when a mixed sample's boxes lost their fields, or the
            fields are given both on the boxes and as keys.
    """
    boxes = results.get('gt_bboxes')
    given = [k for k in MIX_INSTANCE_KEYS if k in results]
    if not isinstance(boxes, LossMixBoxes):
        if 'mix_lambda' in results and boxes is not None and not given:
            raise ValueError(
                f'the mixed sample {results.get("img_path")!r} (mix_lambda '
                f'{results["mix_lambda"]!r}) reached PackLossMixInputs with '
                f'plain gt_bboxes ({type(boxes).__name__}): '
                f'{LOST_FIELDS_HINT}')
        return results
    if given:
        raise ValueError(f'{given} given as keys and on the LossMixBoxes '
                         'gt_bboxes: give the per-box fields one way')
    results = dict(results, gt_bboxes=boxes.to_hbox())
    for field, key in BOX_FIELD_KEYS.items():
        value = getattr(boxes, field).cpu().numpy()
        if len(value) != len(boxes):
            raise ValueError(f'{field} has {len(value)} entries for '
                             f'{len(boxes)} boxes')
        if field != 'reg_weights' or (value != 1).any():
            results[key] = value
    return results


def check_mix_fields(results: dict) -> dict:
    """Check the values of the LossMix keys and cast them.

    Args:
        results (dict): optional ``gt_loss_weights``, ``gt_mix_group``,
            ``gt_reg_weights``, ``mix_lambda``, ``mix_mode``.

    Returns:
        dict: a shallow copy: weights float32, groups int64 (1-D, one per
        box), ``mix_lambda`` a float.

    Raises:
        ValueError: naming the bad values.
    """
    results = dict(results, **{
        key: _per_box(results, key, dtype)
        for key, dtype in zip(MIX_INSTANCE_KEYS,
                              (np.float32, np.int64, np.float32))
        if key in results
    })
    for key, low in (('gt_loss_weights', 'and > 0 (drop instances of '
                      'weight 0)'), ('gt_reg_weights', 'and >= 0')):
        if key not in results:
            continue
        values = results[key].astype(np.float64)
        ok = values > 0 if key == 'gt_loss_weights' else values >= 0
        if not (np.isfinite(values) & ok).all():
            raise ValueError(f'{key} must be finite {low}, got '
                             f'{values.tolist()}')
    groups = results.get('gt_mix_group')
    if groups is not None and not np.isin(groups, (0, 1)).all():
        raise ValueError('gt_mix_group must be 0 (own image) or 1 '
                         f'(partner), got {groups.tolist()}')
    if 'mix_lambda' in results:
        results['mix_lambda'] = check_mix_lambda(results['mix_lambda'])
    elif groups is not None and (groups == 1).any():
        raise ValueError(f'{int((groups == 1).sum())} gts of mix_group 1 '
                         '(partner image) but no mix_lambda in the results '
                         f'of {results.get("img_path")!r}')
    if 'mix_mode' in results:
        check_mix_mode(results['mix_mode'], 'mix_mode')
    return results


def _per_box(results: dict, key: str, dtype: type) -> np.ndarray:
    """``results[key]`` as a 1-D ``dtype`` array, one entry per box."""
    value = np.asarray(results[key])
    if value.ndim != 1:
        raise ValueError(f'{key} must be 1-D, one entry per box, got shape '
                         f'{value.shape}')
    num = len(results['gt_bboxes_labels']) if 'gt_bboxes_labels' in \
        results else len(results.get('gt_bboxes', ()))
    if len(value) != num:
        given = ', '.join(f'{k} has {len(np.asarray(results[k]).reshape(-1))}'
                          ' entries' for k in MIX_INSTANCE_KEYS
                          if k in results)
        raise ValueError(f'{given} for {num} boxes: the LossMix fields need '
                         'one entry per box (give them on LossMixBoxes, '
                         'which keep them aligned)')
    if dtype is np.int64 and not np.all(np.mod(value, 1) == 0):
        raise ValueError(f'{key} must hold integers, got {value.tolist()}')
    return value.astype(dtype)
