# Union mixing on Cascade R-CNN R50-FPN, COCO (the paper's baseline): the same
# in-batch image mixing as LossMix (BatchLossMix, lam ~ Beta(1, 1)) but the gts
# of both images are kept with weight 1. With all weights 1 the LossMix heads
# compute the stock losses; they are used so that every row runs the same model
# code.
_base_ = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='union', alpha=1.0)]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixCascadeRoIHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
