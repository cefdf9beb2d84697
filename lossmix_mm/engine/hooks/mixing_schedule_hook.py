"""Iteration-driven changes of the mixing (LossMix-Partial and the like),
and the phases of the domain-adaptation teacher."""
from typing import Iterator, List, Optional, Sequence

from mmdet.engine.hooks import MeanTeacherHook
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ...datasets.transforms import LossMixPair
from ...mixing.args import MIX_ARGS, update_mix_args
from ...models.data_preprocessors import BatchLossMix
from .phased_mean_teacher_hook import PhasedMeanTeacherHook, unwrap


@HOOKS.register_module()
class MixingScheduleHook(Hook):
    """Change how training data are mixed at given iterations.

    Every ``LossMixPair`` in the train dataset (through dataset wrappers),
    every ``BatchLossMix`` batch augment and the ``mixer`` of a
    ``MixedDomainTeacher`` get the arguments of each schedule entry from its
    iteration on. LossMix-Partial (paper Table 3)::

        custom_hooks = [dict(type='MixingScheduleHook',
                             schedule=[dict(iter=16000, prob=0.0)])]

    A resumed run re-applies every entry it has passed. With
    ``warmup_iters`` the hook also runs a ``MixedDomainTeacher``'s phases
    through a :class:`PhasedMeanTeacherHook` (instead of mmdet's
    ``MeanTeacherHook``, not beside it)::

        custom_hooks = [dict(type='MixingScheduleHook', warmup_iters=20000,
                             keep_rate=0.9996)]

    Args:
        schedule (Sequence[dict]): entries ``dict(iter=N, **args)`` with args
            among ``MIX_ARGS``, applied from 0-based iteration N on.
        warmup_iters (int, optional): length of the warmup phase; None (no
            phases) for plain detectors.
        keep_rate (float): EMA keep rate of the teacher. Defaults to 0.9996.
    """
    priority = 'NORMAL'

    def __init__(self,
                 schedule: Sequence[dict] = (),
                 warmup_iters: Optional[int] = None,
                 keep_rate: float = 0.9996) -> None:
        self.schedule = check_schedule(schedule)
        if not self.schedule and warmup_iters is None:
            raise ValueError('MixingScheduleHook needs a schedule, '
                             'warmup_iters, or both')
        self.teacher_hook = None if warmup_iters is None else \
            PhasedMeanTeacherHook(warmup_iters, keep_rate)

    def phase_at(self, iteration: int) -> str:
        """The phase of 0-based ``iteration`` (``'warmup'`` without
        phases)."""
        if self.teacher_hook is None:
            return 'warmup'
        return self.teacher_hook.phase_at(iteration)

    def before_train(self, runner) -> None:
        """Check there is something to schedule, set the phase of the
        iteration the run starts at, re-apply the passed entries."""
        if self.schedule and not list(self._mixers(runner)):
            raise RuntimeError(
                'MixingScheduleHook found no LossMixPair in the train '
                'dataset, no BatchLossMix in the data preprocessor and no '
                'mixer on the model')
        if self.teacher_hook is not None and any(
                isinstance(hook, MeanTeacherHook) for hook in runner.hooks):
            raise RuntimeError(
                'MixingScheduleHook(warmup_iters=...) updates the teacher '
                'itself; remove the MeanTeacherHook from custom_hooks (both '
                'would average the teacher every iteration)')
        self._teacher('before_train', runner)
        changes = {}
        for entry in self.schedule:
            if entry['iter'] <= runner.iter:
                changes.update(_args_of(entry))
        if changes:
            self._apply(runner, changes)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """The teacher's switch and phase."""
        self._teacher('before_train_iter', runner, batch_idx, data_batch)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """The teacher's EMA; the entries that start with the next
        iteration."""
        self._teacher('after_train_iter', runner, batch_idx, data_batch,
                      outputs)
        for entry in self.schedule:
            if entry['iter'] == runner.iter + 1:
                self._apply(runner, _args_of(entry))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._teacher('before_save_checkpoint', runner, checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._teacher('after_load_checkpoint', runner, checkpoint)

    def _teacher(self, stage: str, *args) -> None:
        """Run the teacher hook's ``stage`` when there are phases."""
        if self.teacher_hook is not None:
            getattr(self.teacher_hook, stage)(*args)

    def _apply(self, runner, changes: dict) -> None:
        for mixer in self._mixers(runner):
            update_mix_args(mixer, **changes)
        print_log(
            f'MixingScheduleHook: from iteration {runner.iter + 1} mixing '
            f'with {changes}',
            logger='current')
        self._restart_workers(runner)

    @staticmethod
    def _mixers(runner) -> Iterator:
        yield from find_pair_transforms(runner.train_dataloader.dataset)
        model = unwrap(runner.model)
        augments = getattr(model.data_preprocessor, 'batch_augments',
                           None) or []
        yield from (aug for aug in augments if isinstance(aug, BatchLossMix))
        if isinstance(getattr(model, 'mixer', None), BatchLossMix):
            yield model.mixer

    @staticmethod
    def _restart_workers(runner) -> None:
        loader = runner.train_dataloader
        if loader.num_workers == 0:
            return  # the main process runs the transforms it just changed
        persistent = getattr(loader, '_iterator', None)
        if persistent is not None:
            persistent._shutdown_workers()
            loader._iterator = None
        loop_iterator = getattr(runner.train_loop, 'dataloader_iterator', None)
        if loop_iterator is not None:  # IterBasedTrainLoop
            loop_iterator._iterator = iter(loader)


def check_schedule(schedule: Sequence[dict]) -> List[dict]:
    """Schedule entries sorted by iteration.

    Args:
        schedule (Sequence[dict]): entries ``dict(iter=N, **args)``.

    Returns:
        list[dict]: copies of the entries, by ``iter``.

    Raises:
        ValueError: on an entry without an int ``iter`` >= 0 or with a key
            other than ``iter`` and ``MIX_ARGS``.
    """
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
    return sorted(entries, key=lambda e: e['iter'])


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


def _args_of(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != 'iter'}
