from .mixing_schedule_hook import (MixingScheduleHook,
                                   copy_student_to_teacher, ema_update)
from .teacher_student_best_hook import TeacherStudentBestHook

__all__ = [
    'MixingScheduleHook', 'TeacherStudentBestHook', 'copy_student_to_teacher',
    'ema_update'
]
