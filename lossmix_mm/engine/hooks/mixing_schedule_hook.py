"""Iteration-driven changes of the mixing (LossMix-Partial and the like)."""
import logging
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from ...datasets.transforms import LossMixPair
from ...mixing.args import MIX_ARGS, update_mix_args
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

    The mixers include the ``mixer`` of a ``MixedDomainTeacher``.

    **Domain-adaptation phases** (``warmup_iters`` set; the model a
    ``MixedDomainTeacher``): iterations ``0 .. warmup_iters - 1`` run the
    warmup losses (Eq. 15); before iteration ``warmup_iters`` the teacher
    becomes a copy of the student (parameters and buffers); from then on the
    adaptation losses (Eq. 16) run and after every iteration the teacher is
    updated by EMA, ``teacher = keep_rate * teacher + (1 - keep_rate) *
    student`` for floating parameters and buffers (BN statistics), integer
    buffers copied. Student and teacher are paired by name. The phase is a
    function of the iteration and the teacher is part of the model's state,
    so a resumed run continues exactly; the checkpoint's ``meta`` also
    records ``mixing_schedule = dict(phase, warmup_iters)`` (the phase of its
    last iteration), and a resumed run with another ``warmup_iters`` warns.
    Use it instead of mmdet's ``MeanTeacherHook``, not beside it::

        custom_hooks = [dict(type='MixingScheduleHook', warmup_iters=20000,
                             keep_rate=0.9996)]

    Args:
        schedule (Sequence[dict]): entries ``dict(iter=N, **args)`` with args
            among ``mode``, ``alpha``, ``prob``, ``noise_range``, applied
            from iteration N (0-based: the N-th iteration is the first to use
            them). Defaults to none.
        warmup_iters (int, optional): length of the warmup phase; None (no
            phases) for plain detectors.
        keep_rate (float): EMA keep rate of the teacher. Defaults to 0.9996.
    """
    priority = 'NORMAL'

    def __init__(self,
                 schedule: Sequence[dict] = (),
                 warmup_iters: Optional[int] = None,
                 keep_rate: float = 0.9996) -> None:
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
        if warmup_iters is not None and (not isinstance(warmup_iters, int)
                                         or warmup_iters < 0):
            raise ValueError(f'warmup_iters must be an int >= 0 or None, got '
                             f'{warmup_iters!r}')
        if not 0.0 < keep_rate < 1.0:
            raise ValueError(f'keep_rate must be in (0, 1), got {keep_rate}')
        if not self.schedule and warmup_iters is None:
            raise ValueError('MixingScheduleHook needs a schedule, '
                             'warmup_iters, or both')
        self.warmup_iters = warmup_iters
        self.keep_rate = float(keep_rate)

    def before_train(self, runner) -> None:
        """Check there is something to schedule; re-apply passed entries;
        set the phase of the iteration the run starts at."""
        if self.schedule and not list(self._mixers(runner)):
            raise RuntimeError(
                'MixingScheduleHook found no LossMixPair in the train '
                'dataset, no BatchLossMix in the data preprocessor and no '
                'mixer on the model')
        if self.warmup_iters is not None:
            model = self._model(runner)
            for attr in ('teacher', 'student', 'set_phase'):
                if not hasattr(model, attr):
                    raise TypeError(
                        f'MixingScheduleHook(warmup_iters=...) needs a '
                        f'MixedDomainTeacher-like model (with {attr!r}), '
                        f'got {type(model).__name__}')
            model.set_phase(self.phase_at(runner.iter))
        passed = [e for e in self.schedule if e['iter'] <= runner.iter]
        if passed:
            changes = {}
            for entry in passed:
                changes.update({k: v for k, v in entry.items() if k != 'iter'})
            self._apply(runner, changes)

    def phase_at(self, iteration: int) -> str:
        """The phase of 0-based ``iteration``."""
        if self.warmup_iters is None or iteration < self.warmup_iters:
            return 'warmup'
        return 'adapt'

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """At the switch: teacher := student, phase 'adapt'."""
        if self.warmup_iters is None:
            return
        model = self._model(runner)
        if runner.iter == self.warmup_iters:
            copy_student_to_teacher(model)
            print_log(
                f'MixingScheduleHook: iteration {runner.iter}: warmup done, '
                'teacher = student, adaptation phase starts',
                logger='current')
        model.set_phase(self.phase_at(runner.iter))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """EMA of the teacher in the adaptation phase; apply the entries
        that start with the next iteration."""
        if self.warmup_iters is not None and \
                runner.iter >= self.warmup_iters:
            ema_update(self._model(runner), self.keep_rate)
        for entry in self.schedule:
            if entry['iter'] == runner.iter + 1:
                self._apply(
                    runner, {k: v for k, v in entry.items() if k != 'iter'})

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.warmup_iters is not None:
            checkpoint.setdefault('meta', {})['mixing_schedule'] = dict(
                phase=self.phase_at(runner.iter),
                warmup_iters=self.warmup_iters)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('meta', {}).get('mixing_schedule')
        if self.warmup_iters is None or state is None:
            return
        if state['warmup_iters'] != self.warmup_iters:
            print_log(
                f'MixingScheduleHook: the checkpoint was trained with '
                f"warmup_iters={state['warmup_iters']}, this run has "
                f'{self.warmup_iters}', logger='current',
                level=logging.WARNING)

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

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


def _paired_state(model) -> list:
    """(student tensor, teacher tensor) pairs of parameters and buffers,
    matched by name; raises if the two differ."""
    student = dict(model.student.named_parameters())
    student.update(model.student.named_buffers())
    teacher = dict(model.teacher.named_parameters())
    teacher.update(model.teacher.named_buffers())
    if student.keys() != teacher.keys():
        diff = sorted(set(student) ^ set(teacher))[:5]
        raise RuntimeError(f'student and teacher differ in {diff}...')
    return [(student[k], teacher[k]) for k in student]


@torch.no_grad()
def copy_student_to_teacher(model) -> None:
    """teacher := student (parameters and buffers)."""
    for src, dst in _paired_state(model):
        dst.data.copy_(src.data)


@torch.no_grad()
def ema_update(model, keep_rate: float) -> None:
    """teacher = keep_rate * teacher + (1 - keep_rate) * student for
    floating tensors; integer buffers (``num_batches_tracked``) copied."""
    for src, dst in _paired_state(model):
        if dst.dtype.is_floating_point:
            dst.data.mul_(keep_rate).add_(src.data, alpha=1.0 - keep_rate)
        else:
            dst.data.copy_(src.data)
