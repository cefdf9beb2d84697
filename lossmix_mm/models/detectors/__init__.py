from .mixed_domain_teacher import (MixedDomainTeacher, mix_across,
                                   zero_loss_dict)

__all__ = ['MixedDomainTeacher', 'mix_across', 'zero_loss_dict']
