from .formatting import PackLossMixInputs
from .gaussian_blur import RandomGaussianBlur
from .lossmix_pair import LossMixPair

__all__ = ['LossMixPair', 'PackLossMixInputs', 'RandomGaussianBlur']
