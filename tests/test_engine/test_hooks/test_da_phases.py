"""MixingScheduleHook's domain-adaptation phases: the switch copies the
student, the EMA follows the reference formula, the state goes into the
checkpoint."""
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from lossmix_mm.engine.hooks import (MixingScheduleHook,
                                     copy_student_to_teacher, ema_update)
from lossmix_mm.engine.hooks import mixing_schedule_hook as schedule_module


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
    return SimpleNamespace(model=model, iter=iteration)


def test_ema_reference_formula():
    model = TinyTeacher()
    before_t = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student = {k: v.clone() for k, v in model.student.state_dict().items()}
    ema_update(model, 0.9)
    after = model.teacher.state_dict()
    for key, t in before_t.items():
        if t.dtype.is_floating_point:
            torch.testing.assert_close(after[key], 0.9 * t + 0.1 * student[key])
        else:
            assert torch.equal(after[key], student[key])
    # running_mean: 0.9 * 0 + 0.1 * 1
    torch.testing.assert_close(model.teacher[1].running_mean,
                               torch.full((3, ), 0.1))
    assert model.teacher[1].num_batches_tracked.item() == 7
    # two steps compose: t2 = k^2 t0 + (1 - k^2) s for a fixed student
    ema_update(model, 0.9)
    torch.testing.assert_close(model.teacher[0].bias,
                               0.81 * before_t['0.bias'] +
                               0.19 * student['0.bias'])


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
    assert ckpt['meta']['mixing_schedule'] == dict(phase='adapt',
                                                   warmup_iters=2)
    before = dict(meta=dict(iter=2))
    hook.before_save_checkpoint(runner_at(model, 1), before)
    assert before['meta']['mixing_schedule']['phase'] == 'warmup'
    # resuming with another warmup length says so
    logged = []
    monkeypatch.setattr(schedule_module, 'print_log',
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
    plain = SimpleNamespace(model=nn.Linear(1, 1), iter=0,
                            train_dataloader=SimpleNamespace(dataset=None))
    plain.model.data_preprocessor = SimpleNamespace(batch_augments=None)
    with pytest.raises(TypeError, match='MixedDomainTeacher'):
        MixingScheduleHook(warmup_iters=1).before_train(plain)
