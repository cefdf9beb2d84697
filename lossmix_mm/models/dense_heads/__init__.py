from .lossmix_rpn_head import LossMixRPNHead

__all__ = ['LossMixRPNHead']
