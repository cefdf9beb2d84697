from .clear_ignore_flags import ClearIgnoreFlags
from .formatting import PackLossMixInputs
from .gaussian_blur import RandomGaussianBlur
from .lossmix_pair import LossMixPair

__all__ = [
    'ClearIgnoreFlags', 'LossMixPair', 'PackLossMixInputs',
    'RandomGaussianBlur'
]
