"""Which of teacher and student is better: the paper's checkpoint choice."""
import logging
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

MEMBERS = ('teacher', 'student')


@HOOKS.register_module()
class TeacherStudentBestHook(Hook):
    """Log, after every validation, which of teacher and student scores
    higher and the best of each so far.

    The paper picks "the model weights with higher performance among the
    two" (teacher and student). mmdet's ``TeacherStudentValLoop`` evaluates
    both and logs ``teacher/<metric>`` and ``student/<metric>``; with
    ``default_hooks.checkpoint.save_best=['teacher/<metric>',
    'student/<metric>']`` mmengine keeps the best checkpoint of each. This
    hook says, in the log, which of the two is the one to test::

        teacher/pascal_voc/mAP 0.512 student 0.498 at iter 4000: teacher
        higher; best so far: teacher 0.512 (iter 4000), student 0.498
        (iter 4000) -> test the teacher's best checkpoint

    The bests live in the checkpoint's ``meta`` so a resumed run keeps
    comparing against them.

    Args:
        metric (str): the metric without the member prefix, e.g.
            ``'pascal_voc/mAP'`` or ``'coco/bbox_mAP'``.
    """

    priority = 'LOW'

    def __init__(self, metric: str = 'pascal_voc/mAP') -> None:
        self.metric = metric
        self.best: Dict[str, Optional[tuple]] = {m: None for m in MEMBERS}

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        metrics = metrics or {}
        keys = {m: f'{m}/{self.metric}' for m in MEMBERS}
        missing = [k for k in keys.values() if k not in metrics]
        if missing:
            print_log(
                f'TeacherStudentBestHook: no {missing} among the validation '
                f'metrics {sorted(metrics)}; is val_cfg a '
                'TeacherStudentValLoop and metric right?',
                logger='current',
                level=logging.WARNING)
            return
        step = runner.iter
        scores = {m: float(metrics[keys[m]]) for m in MEMBERS}
        for member, score in scores.items():
            best = self.best[member]
            if best is None or score > best[0]:
                self.best[member] = (score, step)
        higher = 'teacher' if scores['teacher'] >= scores['student'] \
            else 'student'
        overall = max(MEMBERS, key=lambda m: (self.best[m][0], m == 'teacher'))
        print_log(
            f'{keys["teacher"]} {scores["teacher"]:.4f} student '
            f'{scores["student"]:.4f} at iter {step}: {higher} higher; best '
            f'so far: teacher {self.best["teacher"][0]:.4f} (iter '
            f'{self.best["teacher"][1]}), student '
            f'{self.best["student"][0]:.4f} (iter '
            f'{self.best["student"][1]}) -> test the {overall}\'s best '
            'checkpoint',
            logger='current')
        runner.message_hub.update_info('best_of_teacher_student', overall)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta',
                              {})['teacher_student_best'] = dict(self.best)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('teacher_student_best')
        if saved:
            self.best = {
                m: tuple(saved[m]) if saved.get(m) else None
                for m in MEMBERS
            }
