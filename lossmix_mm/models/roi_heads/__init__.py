from .lossmix_cascade_roi_head import LossMixCascadeRoIHead
from .lossmix_roi_head import LossMixRoIHead
from .lossmix_roi_head_mixin import LossMixRoIHeadMixin

__all__ = ['LossMixRoIHead', 'LossMixCascadeRoIHead', 'LossMixRoIHeadMixin']
