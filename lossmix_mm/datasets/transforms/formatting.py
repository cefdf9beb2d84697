"""Packing of LossMix samples into mmdet's data samples."""
from typing import Sequence

import numpy as np
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS

from ...mixing.args import check_fraction, check_mix_lambda, check_mix_mode
from ...mixing.rules import visible_weights
from ...structures import LossMixBoxes
from .lossmix_pair import check_finite_pixels

# the per-box fields of LossMixBoxes and the results keys the packer
# stages them in for PackDetInputs' split between gt and ignored instances
BOX_FIELD_KEYS = dict(
    loss_weights='gt_loss_weights',
    mix_group='gt_mix_group',
    reg_weights='gt_reg_weights',
    visible='gt_visible')
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

    :class:`LossMixBoxes` are packed as plain ``HorizontalBoxes`` and their
    fields become ``gt_instances.loss_weights`` (float32), ``mix_group``
    (int64), ``visible`` (float32) and, only when some box has a regression
    weight other than 1, ``reg_weights`` (float32). A box's packed weight is
    ``w = c * v`` (``mixing.rules.visible_weights``): ``c`` its
    ``loss_weights``, ``v`` its ``visible`` share times the share of it
    inside the image (for boxes a transform did not clip). A box below
    ``min_visible`` (or at ``v`` 0) becomes an ignored instance; below
    ``reg_min_visible`` its regression weight is 0. ``mix_lambda`` and
    ``mix_mode`` go to the metainfo. Results without these are packed
    exactly as by ``PackDetInputs``.

    Raises ``ValueError`` (naming the value) for a per-box field given as a
    results key, a mixed sample whose boxes lost their fields, weights not
    finite and > 0, regression weights not finite and >= 0, a group other
    than 0/1, a bad ``mix_lambda`` or ``mix_mode``, or a non-finite pixel
    (docs/advanced_guides/robustness.md).

    Required Keys: as ``PackDetInputs``; optional ``mix_lambda``,
    ``mix_mode``.

    Added Keys: ``inputs``, ``data_samples``.

    Args:
        meta_keys (Sequence[str]): metainfo keys; ``'mix_lambda'`` and
            ``'mix_mode'`` are added when missing.
        min_visible (float): in [0, 1]; a box with less of its area visible
            is ignored. Defaults to 0.
        reg_min_visible (float): in [0, 1]; a box with less of its area
            visible trains no box regression. Defaults to 0.
    """
    mapping_table = dict(
        PackDetInputs.mapping_table, **{
            key: field
            for field, key in BOX_FIELD_KEYS.items()
        })

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape',
                                    'img_shape', 'scale_factor', 'flip',
                                    'flip_direction', 'mix_lambda',
                                    'mix_mode'),
        min_visible: float = 0.0,
        reg_min_visible: float = 0.0,
    ) -> None:
        meta_keys = tuple(meta_keys)
        super().__init__(meta_keys=meta_keys +
                         tuple(k for k in MIX_META_KEYS if k not in meta_keys))
        self.min_visible = check_fraction(min_visible, 'min_visible')
        self.reg_min_visible = check_fraction(reg_min_visible,
                                              'reg_min_visible')

    def transform(self, results: dict) -> dict:
        """Check, unpack the box fields, then pack.

        Args:
            results (dict): the pipeline's results (not modified).

        Returns:
            dict: ``inputs`` and ``data_samples``, as ``PackDetInputs``.
        """
        check_finite_pixels(results, 'PackLossMixInputs: image')
        check_no_field_keys(results)
        results = unpack_box_fields(results, self.min_visible,
                                    self.reg_min_visible)
        if any(k in results for k in MIX_META_KEYS):
            results = check_mix_meta(results)
        return super().transform(results)


def check_no_field_keys(results: dict) -> None:
    """Refuse per-box fields given as results keys instead of on the boxes.

    Args:
        results (dict): the pipeline's results.

    Raises:
        ValueError: naming the keys and the way to give the fields.
    """
    given = [k for k in BOX_FIELD_KEYS.values() if k in results]
    if given:
        raise ValueError(
            f'{given} given as results keys of {results.get("img_path")!r}: '
            'PackLossMixInputs takes the per-box fields only on the boxes, '
            'gt_bboxes=LossMixBoxes(boxes, loss_weights=..., mix_group=..., '
            "reg_weights=...) (or LoadAnnotations(box_type='lossmix_hbox') "
            'and LossMixPair)')


def unpack_box_fields(results: dict,
                      min_visible: float = 0.0,
                      reg_min_visible: float = 0.0) -> dict:
    """Check the fields of ``LossMixBoxes`` and stage them as results keys.

    Args:
        results (dict): the pipeline's results, without field keys.
        min_visible (float): ignore a box with a smaller visible share.
        reg_min_visible (float): no regression below this visible share.

    Returns:
        dict: ``results`` itself when the boxes are not ``LossMixBoxes``,
        else a shallow copy with plain ``HorizontalBoxes``, the field keys
        (``gt_reg_weights`` only when a regression weight is not 1) and the
        ignore flags of the boxes too little visible.

    Raises:
        ValueError: when a mixed sample's boxes lost their fields, or a
            field's values are invalid.
    """
    boxes = results.get('gt_bboxes')
    if not isinstance(boxes, LossMixBoxes):
        if 'mix_lambda' in results and boxes is not None:
            raise ValueError(
                f'the mixed sample {results.get("img_path")!r} (mix_lambda '
                f'{results["mix_lambda"]!r}) reached PackLossMixInputs with '
                f'plain gt_bboxes ({type(boxes).__name__}): '
                f'{LOST_FIELDS_HINT}')
        return results
    fields = {k: v.cpu().numpy() for k, v in boxes.fields().items()}
    check_field_values(fields, len(boxes))
    groups = fields['mix_group']
    if 'mix_lambda' not in results and (groups == 1).any():
        raise ValueError(f'{int((groups == 1).sum())} gts of mix_group 1 '
                         '(partner image) but no mix_lambda in the results '
                         f'of {results.get("img_path")!r}')
    if 'img_shape' in results and _reaches_out(boxes, results['img_shape']):
        inside = boxes.clone()  # the share inside the image, if not clipped
        inside.clip_(results['img_shape'][:2])
        fields['visible'] = inside.visible.cpu().numpy()
    fields['loss_weights'], fields['reg_weights'], ignore = visible_weights(
        fields['loss_weights'], fields['reg_weights'], fields['visible'],
        min_visible, reg_min_visible)
    results = dict(results, gt_bboxes=boxes.to_hbox())
    if ignore.any():
        flags = results.get('gt_ignore_flags', np.zeros(len(boxes), bool))
        results['gt_ignore_flags'] = np.asarray(flags, bool) | ignore
    for field, key in BOX_FIELD_KEYS.items():
        if field != 'reg_weights' or (fields[field] != 1).any():
            results[key] = fields[field]
    return results


def _reaches_out(boxes: LossMixBoxes, img_shape) -> bool:
    """Whether a box reaches out of the (h, w) image."""
    t = boxes.tensor.detach().cpu().numpy()
    return bool((t < 0).any() or (t[:, 0::2] > img_shape[1]).any()
                or (t[:, 1::2] > img_shape[0]).any())


def check_field_values(fields: dict, num_boxes: int) -> None:
    """Check the values of the per-box fields of ``LossMixBoxes``.

    Args:
        fields (dict): ``loss_weights``, ``mix_group``, ``reg_weights``,
            ``visible`` as arrays.
        num_boxes (int): the number of boxes.

    Raises:
        ValueError: naming the field and its bad values.
    """
    for field, value in fields.items():
        if len(value) != num_boxes:
            raise ValueError(f'{field} has {len(value)} entries for '
                             f'{num_boxes} boxes')
    for field, low in (('loss_weights', 'and > 0 (drop instances of '
                        'weight 0)'), ('reg_weights', 'and >= 0'),
                       ('visible', 'and in [0, 1]')):
        values = fields[field].astype(np.float64)
        ok = values > 0 if field == 'loss_weights' else values >= 0
        if field == 'visible':
            ok &= values <= 1
        if not (np.isfinite(values) & ok).all():
            raise ValueError(f'LossMixBoxes {field} must be finite {low}, '
                             f'got {values.tolist()}')
    groups = fields['mix_group']
    if not ((groups == 0) | (groups == 1)).all():
        raise ValueError('LossMixBoxes mix_group must be 0 (own image) or 1 '
                         f'(partner), got {groups.tolist()}')


def check_mix_meta(results: dict) -> dict:
    """Check ``mix_lambda`` and ``mix_mode`` and cast ``mix_lambda``.

    Args:
        results (dict): optional ``mix_lambda``, ``mix_mode``.

    Returns:
        dict: a shallow copy with ``mix_lambda`` a float.

    Raises:
        ValueError: naming the bad value.
    """
    results = dict(results)
    if 'mix_lambda' in results:
        results['mix_lambda'] = check_mix_lambda(results['mix_lambda'])
    if 'mix_mode' in results:
        check_mix_mode(results['mix_mode'], 'mix_mode')
    return results
