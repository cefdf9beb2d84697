from .batch_lossmix import BatchLossMix, mix_batch

__all__ = ['BatchLossMix', 'mix_batch']
