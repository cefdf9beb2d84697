from .loss_weights import (get_gt_loss_weights, positive_loss_weights,
                           sampled_loss_weights, scale_target_weights)

__all__ = [
    'get_gt_loss_weights', 'positive_loss_weights', 'sampled_loss_weights',
    'scale_target_weights'
]
