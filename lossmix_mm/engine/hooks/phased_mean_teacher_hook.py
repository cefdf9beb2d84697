"""mmdet's mean teacher with a warmup phase: the teacher is the student's
copy at the switch, then its EMA."""
import logging
from typing import List, Optional, Tuple

import torch
from mmdet.engine.hooks import MeanTeacherHook
from mmdet.registry import HOOKS
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import Tensor, nn


@HOOKS.register_module()
class PhasedMeanTeacherHook(MeanTeacherHook):
    """``MeanTeacherHook`` that starts after a warmup phase.

    Iterations ``0 .. warmup_iters - 1`` are the warmup (the teacher is not
    touched); before iteration ``warmup_iters`` the teacher becomes a copy
    of the student; after every later iteration mmdet's EMA runs,
    ``teacher = keep_rate * teacher + (1 - keep_rate) * student`` on
    parameters and floating buffers, integer buffers copied. The model's
    ``set_phase`` gets ``'warmup'`` or ``'adapt'`` before each iteration.
    The phase is a function of the iteration and the teacher is in the
    model's state, so a resumed run continues exactly; the checkpoint's
    ``meta['mixing_schedule']`` records the phase and ``warmup_iters``.

    Student and teacher are paired by name and must hold the same tensors:
    keep modules that only one of them has (a discriminator) on the wrapper.

    Args:
        warmup_iters (int): length of the warmup phase, >= 0.
        keep_rate (float): EMA keep rate, in (0, 1). Defaults to 0.9996.
        interval (int): EMA every ``interval`` iterations. Defaults to 1.
    """

    def __init__(self,
                 warmup_iters: int,
                 keep_rate: float = 0.9996,
                 interval: int = 1) -> None:
        if isinstance(warmup_iters, bool) or \
                not isinstance(warmup_iters, int) or warmup_iters < 0:
            raise ValueError(f'warmup_iters must be an int >= 0, got '
                             f'{warmup_iters!r}')
        if not 0.0 < keep_rate < 1.0:
            raise ValueError(f'keep_rate must be in (0, 1), got {keep_rate}')
        super().__init__(
            momentum=1.0 - keep_rate, interval=interval, skip_buffer=False)
        self.warmup_iters = warmup_iters

    def phase_at(self, iteration: int) -> str:
        """The phase of 0-based ``iteration``."""
        return 'warmup' if iteration < self.warmup_iters else 'adapt'

    def before_train(self, runner) -> None:
        """Check the model; set the phase of the iteration the run starts
        at (no copy: the teacher is the student's at the switch)."""
        model = unwrap(runner.model)
        for attr in ('teacher', 'student', 'set_phase'):
            if not hasattr(model, attr):
                raise TypeError(
                    f'{type(self).__name__} needs a MixedDomainTeacher-like '
                    f'model (with {attr!r}), got {type(model).__name__}')
        model.set_phase(self.phase_at(runner.iter))

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """At the switch the teacher becomes the student; set the phase."""
        model = unwrap(runner.model)
        if runner.iter == self.warmup_iters:
            self.momentum_update(model, 1.0)
            print_log(
                f'iteration {runner.iter}: warmup done, teacher = student, '
                'adaptation phase starts',
                logger='current')
        model.set_phase(self.phase_at(runner.iter))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """mmdet's EMA step, in the adaptation phase only."""
        if runner.iter >= self.warmup_iters:
            super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def momentum_update(self, model: nn.Module, momentum: float) -> None:
        """mmdet's update on parameters and buffers paired by name: floating
        ones move ``momentum`` of the way to the student, integer ones are
        copied; ``momentum`` 1 copies the student.

        Raises:
            RuntimeError: naming the tensors only one of the two has.
        """
        pairs = paired_state(model)
        if momentum >= 1.0:
            with torch.no_grad():
                for src, dst in pairs:
                    dst.copy_(src)
            return
        super().momentum_update(model, momentum)
        with torch.no_grad():
            for src, dst in pairs:
                if not dst.dtype.is_floating_point:
                    dst.copy_(src)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the phase and ``warmup_iters`` in the checkpoint."""
        checkpoint.setdefault('meta', {})['mixing_schedule'] = dict(
            phase=self.phase_at(runner.iter), warmup_iters=self.warmup_iters)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Warn when the checkpoint had another ``warmup_iters``."""
        state = checkpoint.get('meta', {}).get('mixing_schedule')
        if state is not None and state['warmup_iters'] != self.warmup_iters:
            print_log(
                f'{type(self).__name__}: the checkpoint was trained with '
                f"warmup_iters={state['warmup_iters']}, this run has "
                f'{self.warmup_iters}',
                logger='current',
                level=logging.WARNING)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a model wrapper (DDP), or the model."""
    return model.module if is_model_wrapper(model) else model


def paired_state(model: nn.Module) -> List[Tuple[Tensor, Tensor]]:
    """(student, teacher) tensors of the same name, in ``state_dict``
    order.

    Raises:
        RuntimeError: naming (some of) the tensors only one of the two has.
    """
    student = model.student.state_dict(keep_vars=True)
    teacher = model.teacher.state_dict(keep_vars=True)
    if list(student) != list(teacher):
        diff = sorted(set(student) ^ set(teacher))[:5] or \
            'their order of tensors'
        raise RuntimeError(f'student and teacher differ in {diff}...')
    return [(student[k].data, teacher[k].data) for k in student]


def copy_student_to_teacher(model: nn.Module) -> None:
    """teacher := student (parameters and buffers).

    Args:
        model (nn.Module): a model with ``student`` and ``teacher``.
    """
    PhasedMeanTeacherHook(warmup_iters=0).momentum_update(model, 1.0)


def ema_update(model: nn.Module, keep_rate: float) -> None:
    """One EMA step of the teacher towards the student.

    Args:
        model (nn.Module): a model with ``student`` and ``teacher``.
        keep_rate (float): the teacher's share, in (0, 1).
    """
    hook = PhasedMeanTeacherHook(warmup_iters=0, keep_rate=keep_rate)
    hook.momentum_update(model, hook.momentum)
