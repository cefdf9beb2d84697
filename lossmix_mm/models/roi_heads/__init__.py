from .lossmix_roi_head import LossMixRoIHead

__all__ = ['LossMixRoIHead']
