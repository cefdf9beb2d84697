from .mixing_schedule_hook import MixingScheduleHook

__all__ = ['MixingScheduleHook']
