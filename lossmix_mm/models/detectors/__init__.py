from .mixed_domain_teacher import MixedDomainTeacher, zero_loss_dict
from .teacher_train_cfg import (DEFAULT_TRAIN_CFG, check_loss_weights,
                                check_train_cfg)

__all__ = [
    'MixedDomainTeacher', 'zero_loss_dict', 'DEFAULT_TRAIN_CFG',
    'check_loss_weights', 'check_train_cfg'
]
