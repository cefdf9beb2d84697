"""Checks of a collated batch before it is mixed: values that would make
a NaN loss are refused, naming the image and the value."""
import math
from typing import Iterator, List, Tuple

import torch
from mmdet.structures import SampleList
from mmdet.structures.bbox import BaseBoxes
from mmengine.structures import InstanceData
from torch import Tensor


def check_batch_values(inputs: Tensor,
                       samples: SampleList,
                       where: str = 'mix_batch') -> None:
    """Refuse non-finite pixels or gt boxes and loss weights that are not
    finite or negative.

    One reduction per kind of tensor over the whole batch, read back at
    once; the element-wise pass that names the culprit runs only when one
    of them fails.

    Args:
        inputs (Tensor): (B, C, H, W) batch.
        samples (list[DetDataSample]): its B samples; ``gt_instances`` and
            ``ignored_instances`` are read.
        where (str): who checks, for the message.

    Raises:
        ValueError: naming the image (index and ``img_path`` or
            ``img_id``), the instance or pixel, and the bad value.
    """
    zero = torch.zeros((), device=inputs.device)
    boxes = _cat([_box_tensor(inst) for _, _, inst in _instances(samples)],
                 zero)
    weights = _cat([
        inst.loss_weights
        for _, _, inst in _instances(samples) if 'loss_weights' in inst
    ], zero)
    pixels, box_sum, weight_sum, weight_min = torch.stack([
        inputs.sum(
            dtype=torch.float32) if inputs.is_floating_point() else zero,
        boxes.sum(dtype=torch.float32),
        weights.sum(dtype=torch.float32),
        weights.amin().float() if weights.numel() else zero,
    ]).tolist()
    if not math.isfinite(pixels):
        _name_bad_pixel(inputs, samples, where)
    if not math.isfinite(box_sum):
        _name_bad_box(samples, where)
    if not (math.isfinite(weight_sum) and weight_min >= 0):
        _name_bad_weight(samples, where)


def image_name(samples: SampleList, index: int) -> str:
    """``image <index> ('<img_path>')``, or its ``img_id`` without a
    path."""
    meta = samples[index].metainfo
    if meta.get('img_path') is not None:
        return f'image {index} ({meta["img_path"]!r})'
    return f'image {index} (img_id {meta.get("img_id")!r})'


def _instances(samples: SampleList) -> Iterator[Tuple[int, str, InstanceData]]:
    """(image index, field name, instances) of every sample's gts."""
    for b, sample in enumerate(samples):
        for key in ('gt_instances', 'ignored_instances'):
            inst = sample.get(key)
            if inst is not None and 'bboxes' in inst:
                yield b, key, inst


def _box_tensor(inst: InstanceData) -> Tensor:
    boxes = inst.bboxes
    return boxes.tensor if isinstance(boxes, BaseBoxes) else boxes


def _cat(tensors: List[Tensor], zero: Tensor) -> Tensor:
    """All values of ``tensors`` as one flat tensor on ``zero``'s device."""
    flat = [t.reshape(-1).to(zero.device) for t in tensors]
    return torch.cat(flat) if flat else zero.reshape(1)[:0]


def _name_bad_pixel(inputs: Tensor, samples: SampleList, where: str) -> None:
    for b in range(inputs.size(0)):
        bad = ~torch.isfinite(inputs[b])
        if bad.any():
            pos = tuple(torch.nonzero(bad)[0].tolist())
            raise ValueError(
                f'{where}: {image_name(samples, b)} has {int(bad.sum())} NaN '
                f'or inf pixel values, the first at (channel, row, column) '
                f'{pos}: {float(inputs[b][pos])}; check the image and the '
                'transforms that produced it')


def _name_bad_box(samples: SampleList, where: str) -> None:
    for b, key, inst in _instances(samples):
        boxes = _box_tensor(inst)
        if not boxes.numel():
            continue
        bad = ~torch.isfinite(boxes).reshape(len(boxes), -1).all(dim=1)
        if bad.any():
            i = int(torch.nonzero(bad)[0])
            raise ValueError(
                f'{where}: {key} box {i} {boxes[i].tolist()} of '
                f'{image_name(samples, b)} is not finite; drop or fix such '
                'boxes (e.g. FilterAnnotations) or fix the annotation')


def _name_bad_weight(samples: SampleList, where: str) -> None:
    for b, key, inst in _instances(samples):
        if 'loss_weights' not in inst:
            continue
        weights = inst.loss_weights.reshape(-1)
        bad = ~(torch.isfinite(weights) & (weights >= 0))
        if bad.any():
            i = int(torch.nonzero(bad)[0])
            raise ValueError(
                f'{where}: {key}.loss_weights[{i}] of '
                f'{image_name(samples, b)} must be finite and >= 0, got '
                f'{float(weights[i])}')
