from .loss_weights import (get_gt_loss_weights, get_gt_reg_weights,
                           positive_loss_weights, sampled_loss_weights,
                           scale_target_weights)
from .mix_args import MIX_ARGS, MIX_MODES, check_mix_args, update_mix_args
from .mix_groups import (GroupPass, group_coefficients, mix_group_passes,
                         select_group, sum_pass_losses)

__all__ = [
    'get_gt_loss_weights', 'get_gt_reg_weights', 'positive_loss_weights',
    'sampled_loss_weights', 'scale_target_weights', 'GroupPass',
    'group_coefficients', 'mix_group_passes', 'select_group',
    'sum_pass_losses', 'MIX_ARGS', 'MIX_MODES', 'check_mix_args',
    'update_mix_args'
]
