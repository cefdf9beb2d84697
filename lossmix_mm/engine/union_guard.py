"""No silent Union: the checks behind :class:`UnionGuardHook`.

Every stock mmdet head ignores ``gt_instances.loss_weights``. A config that
puts ``LossMixPair`` or ``BatchLossMix`` in front of a stock detector would
train Union mixing (every box weighs 1) without a word. These functions tell
whether a model reads the weights (class attribute
``reads_loss_weights = True`` on the LossMix heads), find weights other than
1 in a batch, and name the heads to swap in.
"""
from typing import List, Optional

import torch
from mmdet.registry import MODELS
from torch import nn

from ..models.data_preprocessors import BatchLossMix

README_SECTION = "README.md, section 'Supported detectors'"
# stock head -> its LossMix subclass, where the name is not 'LossMix' + stock
_SPECIAL_NAMES = {'StandardRoIHead': 'LossMixRoIHead'}


class LossMixWeightsIgnoredError(RuntimeError):
    """LossMix weights reached a detector whose heads ignore them."""


def reads_loss_weights(model: nn.Module) -> bool:
    """Whether any module of ``model`` reads ``gt_instances.loss_weights``.

    Args:
        model (nn.Module): a detector.

    Returns:
        bool: True if a module's class sets ``reads_loss_weights = True``.
    """
    return any(
        getattr(type(module), 'reads_loss_weights', False)
        for module in model.modules())


def weighting_batch_augments(model: nn.Module) -> List[nn.Module]:
    """The ``BatchLossMix`` modules of ``model`` that write weights other
    than 1 (mode ``'lossmix'``; ``'union'`` and ``'noise'`` write ones).

    Args:
        model (nn.Module): a detector (its data preprocessor included).

    Returns:
        list[nn.Module]: those batch augments.
    """
    return [
        module for module in model.modules()
        if isinstance(module, BatchLossMix) and module.mode == 'lossmix'
    ]


def suggested_heads(model: nn.Module) -> List[str]:
    """'attribute: Stock -> LossMixStock' for every head with a LossMix
    subclass registered; 'attribute: Stock (no LossMix head)' for the
    other modules named ``*head``."""
    lines = []
    for name, module in model.named_modules():
        leaf = name.rsplit('.', 1)[-1]
        if not leaf.endswith('head') or not name:
            continue
        stock = type(module).__name__
        lossmix = _SPECIAL_NAMES.get(stock, f'LossMix{stock}')
        if MODELS.get(lossmix) is not None:
            lines.append(f'{name}: {stock} -> {lossmix}')
        elif '.' not in name:
            lines.append(f'{name}: {stock} (no LossMix head yet: see '
                         "'Add LossMix to your own detector')")
    return lines


def batch_samples(data_batch) -> list:
    """The data samples of a training batch: ``data_samples`` as a list, or
    the lists of its branches (``MultiBranch`` pipelines).

    Args:
        data_batch: what the train dataloader yields (a dict), or None.

    Returns:
        list: the data samples.
    """
    if not isinstance(data_batch, dict):
        return []
    samples = data_batch.get('data_samples')
    if isinstance(samples, dict):
        return [
            s for branch in samples.values()
            if isinstance(branch, (list, tuple)) for s in branch
        ]
    return list(samples) if isinstance(samples, (list, tuple)) else []


def weights_other_than_one(data_samples) -> Optional[float]:
    """The first LossMix weight != 1 of a batch, or None.

    Args:
        data_samples (list): ``DetDataSample`` s (anything else is skipped).

    Returns:
        float or None: a weight other than 1 found in
        ``gt_instances.loss_weights``, None if there is none.
    """
    found = []
    for sample in data_samples or ():
        gts = getattr(sample, 'gt_instances', None)
        if gts is not None and 'loss_weights' in gts:
            found.append(torch.as_tensor(gts.loss_weights).reshape(-1))
    if not found:
        return None
    weights = torch.cat(found)
    other = weights != 1
    return float(weights[other][0]) if other.any() else None


def ignored_weights_message(model: nn.Module, found: str) -> str:
    """The error message: what was found, the heads to swap in.

    Args:
        model (nn.Module): the detector whose heads ignore the weights.
        found (str): what carries the weights, e.g. ``'a training batch
            carries LossMix weights (e.g. 0.3)'``.

    Returns:
        str: the message of :class:`LossMixWeightsIgnoredError`.
    """
    heads = '\n  '.join(suggested_heads(model)) or '(no heads found)'
    return (f'{found} but no head of {type(model).__name__} reads '
            'gt_instances.loss_weights: it would train Union mixing (every '
            'box weight 1) without telling. Swap in the LossMix heads (only '
            f'the type changes):\n  {heads}\nSee {README_SECTION}.')
