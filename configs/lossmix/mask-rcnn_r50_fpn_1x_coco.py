# Mask R-CNN R50-FPN, COCO: no mixing, mmdet's stock config with the LossMix
# heads, which on data without gt_instances.loss_weights compute exactly the
# stock losses (tested); they are used so that the no-mix, Union and LossMix
# rows run the same model code.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    rpn_head=dict(type='LossMixRPNHead'), roi_head=dict(type='LossMixRoIHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
