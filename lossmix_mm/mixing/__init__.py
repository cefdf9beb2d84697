"""Mixing math shared by the data transforms, the batch mixer, the teacher
and the heads' exact mode (no model code here)."""
from .args import (MIX_ARGS, MIX_MODES, REGION_MODES, check_alpha,
                   check_fraction, check_mix_args, check_mix_lambda,
                   check_mix_lambdas, check_mix_mode, check_region_mode,
                   update_mix_args)
from .masks import cat_masks, mask_pixels, mask_visible, place_masks
from .rules import (centre_offsets, instance_weights, shift_boxes,
                    visible_weights)

__all__ = [
    'MIX_ARGS', 'MIX_MODES', 'REGION_MODES', 'check_alpha', 'check_fraction',
    'check_region_mode', 'check_mix_args', 'check_mix_lambda',
    'check_mix_lambdas', 'check_mix_mode', 'update_mix_args', 'cat_masks',
    'mask_pixels', 'mask_visible', 'place_masks', 'centre_offsets',
    'instance_weights', 'shift_boxes', 'visible_weights'
]
