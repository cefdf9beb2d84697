"""Iteration-driven changes of the mixing (LossMix-Partial and the like)."""
from typing import Iterator, List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from ...datasets.transforms.lossmix_pair import (MIX_ARGS, LossMixPair,
                                                 update_mix_args)
from ...models.data_preprocessors import BatchLossMix


@HOOKS.register_module()
class MixingScheduleHook(Hook):
    """Change how training data are mixed at given iterations.

    Every ``LossMixPair`` in the train dataset (through wrappers such as
    ``MultiImageMixDataset``, ``ConcatDataset``, ``RepeatDataset``) and every
    ``BatchLossMix`` batch augment of the model's data preprocessor get the
    arguments of each schedule entry from its iteration on. LossMix-Partial
    (paper Table 3: mixing for the first 16k of 18k iterations)::

        custom_hooks = [dict(type='MixingScheduleHook',
                             schedule=[dict(iter=16000, prob=0.0)])]

    ``prob=0.0`` turns mixing off (no partner is even loaded). Dataloader
    worker processes, persistent ones included, hold their own copies of the
    dataset: with an ``IterBasedTrainLoop`` the hook restarts the loader's
    iterator, so new workers start with the changed transforms from the
    entry's iteration on; with an epoch-based loop a change reaches the
    workers at the next epoch. The schedule is a function of the iteration,
    so a resumed run re-applies every entry it has passed.

    Args:
        schedule (Sequence[dict]): entries ``dict(iter=N, **args)`` with args
            among ``mode``, ``alpha``, ``prob``, ``noise_range``, applied
            from iteration N (0-based: the N-th iteration is the first to use
            them).
    """
    priority = 'NORMAL'

    def __init__(self, schedule: Sequence[dict]) -> None:
        entries = []
        for entry in schedule:
            entry = dict(entry)
            if not isinstance(entry.get('iter'), int) or entry['iter'] < 0:
                raise ValueError('every schedule entry needs an iteration '
                                 f'iter >= 0, got {entry}')
            unknown = set(entry) - {'iter'} - set(MIX_ARGS)
            if unknown:
                raise ValueError(f'unknown keys {sorted(unknown)} in schedule '
                                 f'entry {entry}; valid: iter, {MIX_ARGS}')
            entries.append(entry)
        self.schedule = sorted(entries, key=lambda e: e['iter'])

    def before_train(self, runner) -> None:
        """Check there is something to schedule; re-apply passed entries."""
        if not list(self._mixers(runner)):
            raise RuntimeError(
                'MixingScheduleHook found no LossMixPair in the train '
                'dataset and no BatchLossMix in the data preprocessor')
        passed = [e for e in self.schedule if e['iter'] <= runner.iter]
        if passed:
            changes = {}
            for entry in passed:
                changes.update({k: v for k, v in entry.items() if k != 'iter'})
            self._apply(runner, changes)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Apply the entries that start with the next iteration."""
        for entry in self.schedule:
            if entry['iter'] == runner.iter + 1:
                self._apply(
                    runner, {k: v for k, v in entry.items() if k != 'iter'})

    def _apply(self, runner, changes: dict) -> None:
        for mixer in self._mixers(runner):
            update_mix_args(mixer, **changes)
        print_log(
            f'MixingScheduleHook: from iteration {runner.iter + 1} mixing '
            f'with {changes}', logger='current')
        self._restart_workers(runner)

    @staticmethod
    def _mixers(runner) -> Iterator:
        yield from find_pair_transforms(runner.train_dataloader.dataset)
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        augments = getattr(model.data_preprocessor, 'batch_augments',
                           None) or []
        yield from (aug for aug in augments if isinstance(aug, BatchLossMix))

    @staticmethod
    def _restart_workers(runner) -> None:
        loader = runner.train_dataloader
        if loader.num_workers == 0:
            return  # the main process runs the transforms it just changed
        persistent = getattr(loader, '_iterator', None)
        if persistent is not None:
            persistent._shutdown_workers()
            loader._iterator = None
        loop_iterator = getattr(runner.train_loop, 'dataloader_iterator',
                                None)
        if loop_iterator is not None:  # IterBasedTrainLoop
            loop_iterator._iterator = iter(loader)


def find_pair_transforms(dataset) -> List[LossMixPair]:
    """Every ``LossMixPair`` in a (wrapped) dataset's pipelines."""
    found = []
    pipeline = getattr(dataset, 'pipeline', None)
    transforms = getattr(pipeline, 'transforms', pipeline) or []
    found += [t for t in transforms if isinstance(t, LossMixPair)]
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        found += find_pair_transforms(inner)
    for sub in getattr(dataset, 'datasets', None) or []:
        found += find_pair_transforms(sub)
    return found
