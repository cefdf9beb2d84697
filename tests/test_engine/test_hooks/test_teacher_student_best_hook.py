"""TeacherStudentBestHook: which of teacher and student is higher, the
best of each, the checkpoint meta round trip."""
import logging
from types import SimpleNamespace

import pytest
from mmdet.registry import HOOKS
from mmengine.logging import MessageHub

import lossmix_mm.engine.hooks.teacher_student_best_hook as module


def runner_at(step):
    return SimpleNamespace(
        iter=step, message_hub=MessageHub.get_instance('ts_best_test'))


def metrics(teacher, student, key='pascal_voc/mAP'):
    return {f'teacher/{key}': teacher, f'student/{key}': student}


def test_logs_the_higher_and_the_bests(monkeypatch):
    lines = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: lines.append(msg))
    hook = HOOKS.build(dict(type='TeacherStudentBestHook'))
    hook.after_val_epoch(runner_at(1000), metrics(0.40, 0.45))
    assert 'student higher' in lines[-1]
    assert "test the student's best checkpoint" in lines[-1]
    hook.after_val_epoch(runner_at(2000), metrics(0.50, 0.44))
    assert 'teacher higher' in lines[-1]
    assert hook.best == dict(teacher=(0.50, 2000), student=(0.45, 1000))
    assert "test the teacher's best checkpoint" in lines[-1]
    assert 'teacher 0.5000 (iter 2000), student 0.4500 (iter 1000)' \
        in lines[-1]
    hub = runner_at(0).message_hub
    assert hub.get_info('best_of_teacher_student') == 'teacher'


def test_missing_metric_warns_and_keeps_state(monkeypatch):
    lines = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: lines.append(msg))
    hook = HOOKS.build(
        dict(type='TeacherStudentBestHook', metric='coco/bbox_mAP'))
    hook.after_val_epoch(runner_at(10), metrics(0.5, 0.4))
    assert 'teacher/coco/bbox_mAP' in lines[-1]
    assert hook.best == dict(teacher=None, student=None)
    hook.after_val_epoch(runner_at(10), metrics(0.3, 0.2, 'coco/bbox_mAP'))
    assert hook.best['teacher'] == (0.3, 10)


def test_bests_survive_a_resume(monkeypatch):
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: None)
    hook = HOOKS.build(dict(type='TeacherStudentBestHook'))
    hook.after_val_epoch(runner_at(1000), metrics(0.40, 0.45))
    checkpoint = dict(meta=dict())
    hook.before_save_checkpoint(None, checkpoint)
    resumed = HOOKS.build(dict(type='TeacherStudentBestHook'))
    resumed.after_load_checkpoint(None, checkpoint)
    assert resumed.best == dict(teacher=(0.40, 1000), student=(0.45, 1000))
    # a later, lower score does not replace the loaded best
    resumed.after_val_epoch(runner_at(2000), metrics(0.30, 0.35))
    assert resumed.best['student'] == pytest.approx((0.45, 1000))


def test_missing_metric_warning_reaches_the_real_logger():
    """The warning goes through mmengine's print_log (its level must be a
    logging level: a string raised TypeError when a member had no metric)."""
    from mmengine.logging import MMLogger

    class Records(logging.Handler):

        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    logger = MMLogger.get_instance('test_teacher_student_best_missing')
    handler = Records()
    logger.addHandler(handler)
    hook = HOOKS.build(
        dict(type='TeacherStudentBestHook', metric='coco/bbox_mAP'))
    try:
        hook.after_val_epoch(runner_at(10), {'teacher/coco/bbox_mAP': 0.5})
    finally:
        logger.removeHandler(handler)
    warnings = [r for r in handler.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert 'student/coco/bbox_mAP' in warnings[0].getMessage()
    assert hook.best == dict(teacher=None, student=None)
