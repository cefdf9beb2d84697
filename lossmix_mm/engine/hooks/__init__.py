from .mixing_schedule_hook import (MixingScheduleHook,
                                   copy_student_to_teacher, ema_update)
from .random_state_hook import (RandomStateHook, get_random_states,
                                set_random_states)
from .teacher_student_best_hook import TeacherStudentBestHook

__all__ = [
    'MixingScheduleHook', 'TeacherStudentBestHook', 'copy_student_to_teacher',
    'ema_update', 'RandomStateHook', 'get_random_states', 'set_random_states'
]
