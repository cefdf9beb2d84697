from .batch_lossmix import BatchLossMix, mix_batch, random_derangement

__all__ = ['BatchLossMix', 'mix_batch', 'random_derangement']
