"""No silent Union: LossMix weights must reach a head that reads them.

Every stock mmdet head ignores ``gt_instances.loss_weights``. A config that
puts ``LossMixPair`` or ``BatchLossMix`` in front of a stock detector would
train Union mixing (every box weighs 1) without a word. Importing
``lossmix_mm`` (which every LossMix config does through ``custom_imports``)
installs two global module hooks of PyTorch: one notes the last training
output of a data preprocessor, one checks it when its detector's ``forward``
starts. A detector none of whose modules reads the weights (class attribute
``reads_loss_weights = True`` on the LossMix heads) that receives a training
batch with a weight other than 1 raises :class:`LossMixWeightsIgnoredError`
at that iteration, naming the heads to swap in. This works under any launcher
or entry point (``tools/train.py``, ``mim train``, a notebook) because it does
not depend on the runner or the config's hooks. Detectors that read the
weights are recognised once and never checked again; for the others the
check is a scan of the batch's instance fields.
"""
import weakref
from typing import List, Optional

import torch
from mmengine.model import BaseDataPreprocessor
from torch import nn
from torch.nn.modules.module import (register_module_forward_hook,
                                     register_module_forward_pre_hook)

from mmdet.models.detectors import BaseDetector
from mmdet.registry import MODELS

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
            found.append(gts.loss_weights.reshape(-1).float())
    if not found:
        return None
    weights = torch.cat(found)
    other = weights[weights != 1]
    return float(other[0]) if other.numel() else None


def _batch_samples(output) -> list:
    """The data samples of a data preprocessor's output (one level of
    branches, as ``MultiBranchDataPreprocessor`` returns, included)."""
    if not isinstance(output, dict):
        return []
    if 'data_samples' in output:
        samples = output['data_samples']
        return list(samples) if isinstance(samples, (list, tuple)) else []
    samples = []
    for value in output.values():
        if isinstance(value, dict) and isinstance(
                value.get('data_samples'), (list, tuple)):
            samples.extend(value['data_samples'])
    return samples


class _Guard:
    """State of the two global hooks (one instance per process)."""

    def __init__(self) -> None:
        # detector -> whether it reads the weights (weak: tests build many)
        self.reads = weakref.WeakKeyDictionary()
        self.last_preprocessor = None
        self.last_samples: list = []

    def after_preprocessor(self, module, args, output) -> None:
        if not isinstance(module, BaseDataPreprocessor):
            return
        # ``(data, True)`` from BaseModel.train_step; DDP passes
        # ``training=True`` as a keyword, which global hooks do not see:
        # the module's mode says the same there
        training = args[1] if len(args) > 1 else module.training
        if training:
            self.last_preprocessor = weakref.ref(module)
            self.last_samples = _batch_samples(output)

    def before_forward(self, module, args) -> None:
        if not isinstance(module, BaseDetector) or not module.training:
            return
        # take (and forget) the batch the preprocessor just produced
        last, samples = self.last_preprocessor, self.last_samples
        self.last_preprocessor, self.last_samples = None, []
        reads = self.reads.get(module)
        if reads is None:
            reads = self.reads[module] = reads_loss_weights(module)
        if reads or last is None or \
                last() is not getattr(module, 'data_preprocessor', None):
            return
        weight = weights_other_than_one(samples)
        if weight is None:
            return
        heads = '\n  '.join(suggested_heads(module)) or '(no heads found)'
        raise LossMixWeightsIgnoredError(
            f'a training batch carries LossMix weights (e.g. {weight:.4g}) '
            f'but no head of {type(module).__name__} reads '
            'gt_instances.loss_weights: it would train Union mixing '
            '(every box weight 1) without telling. Swap in the LossMix '
            f'heads (only the type changes):\n  {heads}\nSee '
            f'{README_SECTION}.')


GUARD = _Guard()
_HANDLES = []


def install() -> None:
    """Install the two global hooks once per process (import does it)."""
    if not _HANDLES:
        _HANDLES.append(
            register_module_forward_hook(GUARD.after_preprocessor))
        _HANDLES.append(
            register_module_forward_pre_hook(GUARD.before_forward))
