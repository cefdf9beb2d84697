from .lossmix_cascade_roi_head import LossMixCascadeRoIHead
from .lossmix_roi_head import LossMixRoIHead
from .lossmix_roi_head_mixin import LossMixRoIHeadMixin, check_gt_instances
from .single_pass import SinglePassMixin

__all__ = [
    'LossMixRoIHead', 'LossMixCascadeRoIHead', 'LossMixRoIHeadMixin',
    'SinglePassMixin', 'check_gt_instances'
]
