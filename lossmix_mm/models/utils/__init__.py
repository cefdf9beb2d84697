from .loss_weights import (get_gt_loss_weights, positive_loss_weights,
                           sampled_loss_weights, scale_target_weights)
from .mix_groups import (GroupPass, mix_group_passes, select_group,
                         sum_pass_losses)

__all__ = [
    'get_gt_loss_weights', 'positive_loss_weights', 'sampled_loss_weights',
    'scale_target_weights', 'GroupPass', 'mix_group_passes', 'select_group',
    'sum_pass_losses'
]
