from .lossmix_atss_head import LossMixATSSHead
from .lossmix_deformable_detr_head import LossMixDeformableDETRHead
from .lossmix_detr_head import LossMixDETRHead
from .lossmix_dino_head import LossMixDINOHead
from .lossmix_fcos_head import LossMixFCOSHead
from .lossmix_retina_head import LossMixRetinaHead
from .lossmix_rpn_head import LossMixRPNHead
from .lossmix_rtmdet_head import LossMixRTMDetSepBNHead
from .lossmix_yolox_head import LossMixYOLOXHead

__all__ = [
    'LossMixDETRHead', 'LossMixDeformableDETRHead', 'LossMixDINOHead',
    'LossMixRPNHead', 'LossMixRetinaHead', 'LossMixFCOSHead',
    'LossMixATSSHead', 'LossMixRTMDetSepBNHead', 'LossMixYOLOXHead'
]
