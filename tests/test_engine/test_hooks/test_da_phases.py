"""The domain-adaptation phases (PhasedMeanTeacherHook, alone or inside
MixingScheduleHook): the switch copies the student, the EMA is mmdet's
MeanTeacherHook's, the state goes into the checkpoint."""
from types import SimpleNamespace

import pytest
import torch
from mmdet.engine.hooks import MeanTeacherHook
from mmdet.registry import HOOKS
from torch import nn

from lossmix_mm.engine.hooks import (MixingScheduleHook, PhasedMeanTeacherHook,
                                     copy_student_to_teacher, ema_update)
from lossmix_mm.engine.hooks import phased_mean_teacher_hook as teacher_module


class TinyTeacher(nn.Module):
    """Student and teacher of the same shape (conv + BN), and a phase."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.student = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
        self.teacher = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
        # distinct BN statistics
        self.student[1].running_mean.fill_(1.0)
        self.student[1].num_batches_tracked.fill_(7)
        self.phase = 'warmup'

    def set_phase(self, phase):
        self.phase = phase


def runner_at(model, iteration):
    return SimpleNamespace(model=model, iter=iteration, hooks=[])


def test_ema_reference_formula():
    model = TinyTeacher()
    before_t = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student = {k: v.clone() for k, v in model.student.state_dict().items()}
    ema_update(model, 0.9)
    after = model.teacher.state_dict()
    for key, t in before_t.items():
        if t.dtype.is_floating_point:
            torch.testing.assert_close(after[key],
                                       0.9 * t + 0.1 * student[key])
        else:
            assert torch.equal(after[key], student[key])
    # running_mean: 0.9 * 0 + 0.1 * 1
    torch.testing.assert_close(model.teacher[1].running_mean,
                               torch.full((3, ), 0.1))
    assert model.teacher[1].num_batches_tracked.item() == 7
    # two steps compose: t2 = k^2 t0 + (1 - k^2) s for a fixed student
    ema_update(model, 0.9)
    torch.testing.assert_close(
        model.teacher[0].bias,
        0.81 * before_t['0.bias'] + 0.19 * student['0.bias'])


def test_pairs_by_name_not_position():
    model = TinyTeacher()
    model.teacher.add_module('extra', nn.Linear(1, 1))
    with pytest.raises(RuntimeError, match='extra'):
        ema_update(model, 0.9)


def test_switch_copies_the_student_then_ema_runs():
    model = TinyTeacher()
    hook = MixingScheduleHook(warmup_iters=3, keep_rate=0.5)
    teacher0 = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    # warmup iterations: no copy, no EMA
    for it in range(3):
        hook.before_train_iter(runner_at(model, it), it)
        assert model.phase == 'warmup'
        hook.after_train_iter(runner_at(model, it), it)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher0[key])
    # iteration 3: teacher := student, phase adapt
    hook.before_train_iter(runner_at(model, 3), 3)
    assert model.phase == 'adapt'
    for key, value in model.student.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value)
    # the student moves (an SGD step), then the EMA after the iteration
    with torch.no_grad():
        model.student[0].bias.add_(2.0)
    expected = model.teacher[0].bias + 0.5 * 2.0
    hook.after_train_iter(runner_at(model, 3), 3)
    torch.testing.assert_close(model.teacher[0].bias, expected)
    # a later iteration does not copy again
    hook.before_train_iter(runner_at(model, 4), 4)
    assert not torch.equal(model.teacher[0].bias, model.student[0].bias)


def test_phase_state_in_checkpoint(monkeypatch):
    model = TinyTeacher()
    hook = MixingScheduleHook(warmup_iters=2)
    ckpt = dict(meta=dict(iter=7))
    hook.before_save_checkpoint(runner_at(model, 6), ckpt)
    assert ckpt['meta']['mixing_schedule'] == dict(
        phase='adapt', warmup_iters=2)
    before = dict(meta=dict(iter=2))
    hook.before_save_checkpoint(runner_at(model, 1), before)
    assert before['meta']['mixing_schedule']['phase'] == 'warmup'
    # resuming with another warmup length says so
    logged = []
    monkeypatch.setattr(teacher_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    MixingScheduleHook(warmup_iters=2).after_load_checkpoint(
        runner_at(model, 7), ckpt)
    assert logged == []
    MixingScheduleHook(warmup_iters=5).after_load_checkpoint(
        runner_at(model, 7), ckpt)
    assert len(logged) == 1 and 'warmup_iters=2' in logged[0]
    fresh = MixingScheduleHook(warmup_iters=2)
    # before_train sets the phase of the iteration the run resumes at
    runner = runner_at(model, 7)
    runner.train_dataloader = SimpleNamespace(dataset=None)
    fresh.before_train(runner)
    assert model.phase == 'adapt'
    runner.iter = 1
    fresh.before_train(runner)
    assert model.phase == 'warmup'


def test_copy_student_to_teacher():
    model = TinyTeacher()
    copy_student_to_teacher(model)
    for key, value in model.student.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value)


def test_phase_errors():
    with pytest.raises(ValueError, match='warmup_iters'):
        MixingScheduleHook(warmup_iters=-1)
    with pytest.raises(ValueError, match='keep_rate'):
        MixingScheduleHook(warmup_iters=1, keep_rate=1.0)
    with pytest.raises(ValueError, match='schedule, warmup_iters'):
        MixingScheduleHook()
    plain = SimpleNamespace(
        model=nn.Linear(1, 1),
        iter=0,
        hooks=[],
        train_dataloader=SimpleNamespace(dataset=None))
    plain.model.data_preprocessor = SimpleNamespace(batch_augments=None)
    with pytest.raises(TypeError, match='MixedDomainTeacher'):
        MixingScheduleHook(warmup_iters=1).before_train(plain)


def test_ema_equals_mmdet_mean_teacher_hook():
    """Floating tensors move exactly as mmdet's MeanTeacherHook moves them
    (momentum = 1 - keep_rate); integer buffers are copied."""
    ours, stock = TinyTeacher(), TinyTeacher()
    ema_update(ours, 0.75)
    MeanTeacherHook(
        momentum=0.25, skip_buffer=False).momentum_update(stock, 0.25)
    for (key, a), b in zip(ours.teacher.state_dict().items(),
                           stock.teacher.state_dict().values()):
        if a.dtype.is_floating_point:
            assert torch.equal(a, b), key
    assert ours.teacher[1].num_batches_tracked.item() == 7
    assert stock.teacher[1].num_batches_tracked.item() == 0


def test_phased_hook_alone_with_interval():
    """Built from the registry; warmup untouched, copy at the switch, EMA
    every ``interval`` adaptation iterations (mmdet's rule)."""
    model = TinyTeacher()
    hook = HOOKS.build(
        dict(
            type='PhasedMeanTeacherHook',
            warmup_iters=1,
            keep_rate=0.5,
            interval=2))
    assert isinstance(hook, MeanTeacherHook)
    hook.before_train(runner_at(model, 0))
    assert model.phase == 'warmup'
    teacher0 = model.teacher[0].bias.clone()
    hook.before_train_iter(runner_at(model, 0), 0)
    hook.after_train_iter(runner_at(model, 0), 0)
    assert torch.equal(model.teacher[0].bias, teacher0)
    hook.before_train_iter(runner_at(model, 1), 1)
    assert model.phase == 'adapt'
    assert torch.equal(model.teacher[0].bias, model.student[0].bias)
    with torch.no_grad():
        model.student[0].bias.add_(4.0)
    copied = model.teacher[0].bias.clone()
    hook.after_train_iter(runner_at(model, 1), 1)  # (1 + 1) % 2 == 0
    torch.testing.assert_close(model.teacher[0].bias, copied + 2.0)
    hook.after_train_iter(runner_at(model, 2), 2)  # skipped
    torch.testing.assert_close(model.teacher[0].bias, copied + 2.0)


def test_discriminator_on_the_student_is_refused():
    """MeanTeacherHook pairs by position: a module only the student has
    would shift every pair; here it is named instead."""
    model = TinyTeacher()
    model.discriminator = nn.Conv2d(3, 1, 1)  # on the wrapper: fine
    copy_student_to_teacher(model)
    model.student.add_module('discriminator', nn.Conv2d(3, 1, 1))
    with pytest.raises(RuntimeError, match='discriminator'):
        PhasedMeanTeacherHook(warmup_iters=0).before_train_iter(
            runner_at(model, 0), 0)


@pytest.mark.parametrize('kwargs,match', [
    (dict(warmup_iters=None), 'warmup_iters'),
    (dict(warmup_iters=1.5), 'warmup_iters'),
    (dict(warmup_iters=1, keep_rate=0.0), 'keep_rate'),
])
def test_phased_hook_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PhasedMeanTeacherHook(**kwargs)


@pytest.mark.parametrize('other', [MeanTeacherHook, 'phased'])
def test_a_second_teacher_average_is_refused(other):
    """MixingScheduleHook(warmup_iters=...) beside a MeanTeacherHook (or
    its phased subclass) would average the teacher twice an iteration."""
    second = teacher_module.PhasedMeanTeacherHook(warmup_iters=3) \
        if other == 'phased' else other()
    hook = MixingScheduleHook(warmup_iters=3)
    runner = SimpleNamespace(model=TinyTeacher(), iter=0, hooks=[hook, second])
    with pytest.raises(RuntimeError, match='remove the MeanTeacherHook'):
        hook.before_train(runner)
    runner.hooks = [hook]
    hook.before_train(runner)  # alone: fine
    assert runner.model.phase == 'warmup'
