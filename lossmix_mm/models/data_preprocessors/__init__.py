from .batch_lossmix import BatchLossMix, noise_lambdas, random_derangement

__all__ = ['BatchLossMix', 'noise_lambdas', 'random_derangement']
