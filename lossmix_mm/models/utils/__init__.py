from .assign_recorder import recorded_assignments
from .loss_weights import (get_gt_loss_weights, get_gt_reg_weights,
                           positive_loss_weights, sampled_loss_weights,
                           scale_target_weights)
from .loss_scaling import (ScaledWeightLoss, assigned_sample_weights,
                           cls_reg_sample_weights, scaled_loss)
from .mix_groups import (EXACT_MODES, GroupPass, group_coefficients,
                         loss_by_terms,
                         mix_group_passes, relabel_sampling_result,
                         resolve_exact_mode, sampling_gt_instances,
                         select_group, sum_pass_losses)
from .roi_weighted_loss import (RoIWeightedLoss, roi_weighted_loss,
                                roi_weighted_mean)

__all__ = [
    'recorded_assignments',
    'get_gt_loss_weights', 'get_gt_reg_weights', 'positive_loss_weights',
    'sampled_loss_weights', 'scale_target_weights', 'GroupPass',
    'group_coefficients', 'mix_group_passes', 'select_group',
    'sum_pass_losses', 'ScaledWeightLoss', 'assigned_sample_weights',
    'cls_reg_sample_weights', 'scaled_loss', 'RoIWeightedLoss',
    'roi_weighted_loss', 'roi_weighted_mean', 'EXACT_MODES',
    'relabel_sampling_result', 'resolve_exact_mode', 'sampling_gt_instances',
    'loss_by_terms'
]
