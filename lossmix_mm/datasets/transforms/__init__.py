from .formatting import PackLossMixInputs
from .lossmix_pair import LossMixPair

__all__ = ['LossMixPair', 'PackLossMixInputs']
