from .batch_lossmix import BatchLossMix, mix_batch, random_derangement
from .mix_across import mix_across, pad_cat

__all__ = [
    'BatchLossMix', 'mix_batch', 'random_derangement', 'mix_across', 'pad_cat'
]
