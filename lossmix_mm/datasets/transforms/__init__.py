from .clear_ignore_flags import ClearIgnoreFlags
from .formatting import PackLossMixInputs
from .gaussian_blur import RandomGaussianBlur
from .lossmix_cutmix import LossMixCutMix
from .lossmix_mixup import LossMixCachedMixUp, LossMixMixUp
from .lossmix_mosaic import LossMixCachedMosaic, LossMixMosaic
from .lossmix_pair import LossMixPair
from .scale_loss_weights import ScaleLossWeights

__all__ = [
    'ClearIgnoreFlags', 'LossMixCachedMixUp', 'LossMixCachedMosaic',
    'LossMixCutMix', 'LossMixMixUp', 'LossMixMosaic', 'LossMixPair',
    'PackLossMixInputs', 'RandomGaussianBlur', 'ScaleLossWeights'
]
