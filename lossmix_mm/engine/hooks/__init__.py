from .mixing_schedule_hook import MixingScheduleHook
from .phased_mean_teacher_hook import (PhasedMeanTeacherHook,
                                       copy_student_to_teacher, ema_update)
from .random_state_hook import (RandomStateHook, get_random_states,
                                set_random_states)
from .teacher_student_best_hook import TeacherStudentBestHook
from .union_guard_hook import UnionGuardHook

__all__ = [
    'MixingScheduleHook', 'PhasedMeanTeacherHook', 'TeacherStudentBestHook',
    'copy_student_to_teacher', 'ema_update', 'RandomStateHook',
    'get_random_states', 'set_random_states', 'UnionGuardHook'
]
