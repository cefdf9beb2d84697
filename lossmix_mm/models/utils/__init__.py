from .loss_weights import (get_gt_loss_weights, get_gt_reg_weights,
                           positive_loss_weights, sampled_loss_weights,
                           scale_target_weights)
from .mix_groups import (EXACT_MODES, GroupPass, group_coefficients,
                         mix_group_passes, relabel_sampling_result,
                         resolve_exact_mode, sampling_gt_instances,
                         select_group, sum_pass_losses)
from .roi_weighted_loss import (RoIWeightedLoss, roi_weighted_loss,
                                roi_weighted_mean)
from .sample_weights import (SampleWeights, assigned_sample_weights,
                             check_gt_labels, cls_reg_sample_weights,
                             has_sample_weights, loss_by_terms, sample_weights,
                             select_images, times)

__all__ = [
    'get_gt_loss_weights', 'get_gt_reg_weights', 'positive_loss_weights',
    'sampled_loss_weights', 'scale_target_weights', 'GroupPass',
    'group_coefficients', 'mix_group_passes', 'select_group',
    'sum_pass_losses', 'assigned_sample_weights', 'cls_reg_sample_weights',
    'RoIWeightedLoss', 'roi_weighted_loss', 'roi_weighted_mean', 'EXACT_MODES',
    'relabel_sampling_result', 'resolve_exact_mode', 'sampling_gt_instances',
    'loss_by_terms', 'SampleWeights', 'check_gt_labels', 'has_sample_weights',
    'sample_weights', 'select_images', 'times'
]
