"""No silent Union: LossMix weights must reach a head that reads them."""
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..union_guard import (LossMixWeightsIgnoredError, batch_samples,
                           ignored_weights_message, reads_loss_weights,
                           weighting_batch_augments, weights_other_than_one)


@HOOKS.register_module()
class UnionGuardHook(Hook):
    """Fail a training whose LossMix weights no head reads.

    A stock head fed ``LossMixPair`` or ``BatchLossMix`` data would train
    Union mixing (every box weight 1) without a word. ``LossMixRunner`` adds
    this hook to every run (configs select the runner with ``runner_type``);
    with another runner, list it in ``custom_hooks``. It raises
    :class:`LossMixWeightsIgnoredError`, naming the heads to swap in:

    - at ``before_train``, when no module of the model reads the weights
      (``reads_loss_weights = True`` on the LossMix heads) and a
      ``BatchLossMix`` in ``'lossmix'`` mode sits in its data preprocessor;
    - at ``before_train_iter``, when no module reads them and the batch
      carries a weight other than 1. A model that reads the weights is never
      scanned.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.model_reads = True

    def before_train(self, runner) -> None:
        """Find out once whether the model reads the weights."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.model_reads = reads_loss_weights(model)
        if self.model_reads:
            return
        augments = weighting_batch_augments(model)
        if augments:
            raise LossMixWeightsIgnoredError(
                ignored_weights_message(
                    model, f'the data preprocessor mixes with '
                    f'{type(augments[0]).__name__} (mode '
                    f"'{augments[0].mode}')"))

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Scan the batch when the model does not read the weights."""
        if self.model_reads:
            return
        weight = weights_other_than_one(batch_samples(data_batch))
        if weight is not None:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            raise LossMixWeightsIgnoredError(
                ignored_weights_message(
                    model, 'a training batch carries LossMix weights '
                    f'(e.g. {weight:.4g})'))
