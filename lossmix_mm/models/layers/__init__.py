from .domain_discriminator import SOURCE, TARGET, ImageDomainDiscriminator
from .gradient_reversal import GradientReversal, reverse_grad

__all__ = [
    'GradientReversal', 'reverse_grad', 'ImageDomainDiscriminator', 'SOURCE',
    'TARGET'
]
