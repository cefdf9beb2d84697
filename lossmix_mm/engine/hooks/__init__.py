from .mixing_schedule_hook import (MixingScheduleHook,
                                   copy_student_to_teacher, ema_update)

__all__ = ['MixingScheduleHook', 'copy_student_to_teacher', 'ema_update']
