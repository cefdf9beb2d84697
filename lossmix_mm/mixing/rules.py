"""The rules of LossMix mixing, written once.

Pair mixing (``LossMixPair``), in-batch mixing (``BatchLossMix``), the
region transforms (``LossMixMosaic``, ``LossMixMixUp``, ``LossMixCutMix``),
the packer, the domain-adaptation teacher and the heads' exact mode all
import these.
"""
from typing import Tuple

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes

from .args import check_mix_lambda, check_mix_mode


def instance_weights(mode: str, lam: float) -> Tuple[float, float]:
    """Weights of the own and the partner image's instances.

    Also the coefficients of the two terms of Eq. 14 in exact mode. An image
    with coefficient 0 in the pixels weighs 0 (its instances are dropped).

    Args:
        mode (str): ``'lossmix'`` (lam, 1 - lam), ``'union'`` (1, 1) or
            ``'noise'`` (1, 0: only the dominant own image is labelled).
        lam (float): the own image's pixel coefficient, in [0, 1].

    Returns:
        tuple[float, float]: own and partner weights, each >= 0.
    """
    lam = check_mix_lambda(lam)
    mode = check_mix_mode(mode)
    if mode == 'lossmix':
        return lam, 1.0 - lam
    if mode == 'union':
        return float(lam > 0), float(lam < 1)
    return float(lam > 0), 0.0


def centre_offsets(hw_a: Tuple[int, int],
                   hw_b: Tuple[int, int]) -> Tuple[tuple, tuple, tuple]:
    """Canvas size and offsets of two centre-aligned images (paper supp. A).

    Args:
        hw_a (tuple[int, int]): (h, w) of the own image.
        hw_b (tuple[int, int]): (h, w) of the partner image.

    Returns:
        tuple: the canvas (H, W) = (max h, max w) and the integer (x, y)
        offsets of each image's top-left corner on it.
    """
    height, width = max(hw_a[0], hw_b[0]), max(hw_a[1], hw_b[1])
    offsets = tuple(
        ((width - w) // 2, (height - h) // 2) for h, w in (hw_a, hw_b))
    return (height, width), offsets[0], offsets[1]


def shift_boxes(boxes, offset: Tuple[int, int]):
    """Boxes translated by (x, y), as a new object.

    Args:
        boxes (BaseBoxes | Tensor | np.ndarray): (N, 4) boxes.
        offset (tuple[int, int]): (x, y).

    Returns:
        the same type as ``boxes`` (an (N, 4) float32 array for arrays).
    """
    if isinstance(boxes, BaseBoxes):
        shifted = boxes.clone()
        if any(offset):
            shifted.translate_(offset)  # in place, returns None
        return shifted
    if isinstance(boxes, torch.Tensor):
        return boxes + boxes.new_tensor([*offset, *offset])
    return np.asarray(
        boxes, dtype=np.float32).reshape(-1, 4) + np.array([*offset, *offset],
                                                           dtype=np.float32)


def visible_weights(loss_weights: np.ndarray, reg_weights: np.ndarray,
                    visible: np.ndarray, min_visible: float,
                    reg_min_visible: float) -> Tuple[np.ndarray, ...]:
    """A box's weight ``w = c * v`` and what its visible share ``v`` allows.

    ``c`` (``loss_weights``) is the pixel coefficient of the image the box
    came from (lam / 1 - lam for a blend, 1 for a pasted region); ``v`` the
    share of its area, as annotated, still visible.

    Args:
        loss_weights (np.ndarray): (N, ) ``c`` of each box.
        reg_weights (np.ndarray): (N, ) regression weights.
        visible (np.ndarray): (N, ) ``v`` of each box, in [0, 1].
        min_visible (float): below it (and at ``v`` 0) a box is ignored:
            neither object nor background.
        reg_min_visible (float): below it a box trains classification but
            not box regression (its visible extent is not the object's).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: the weights ``c * v``
        (``c`` for an ignored box), the regression weights (0 below
        ``reg_min_visible``) and the (N, ) bool ignore flags.
    """
    ignore = (visible < min_visible) | (visible <= 0)
    weights = np.where(ignore, loss_weights, loss_weights * visible)
    reg = np.where(visible < reg_min_visible, 0.0, reg_weights)
    return (weights.astype(np.float32), reg.astype(np.float32),
            ignore.astype(bool))
