# LossMix on FCOS R50 (caffe) FPN with GN head, COCO, with the paper's in-batch
# mixing (supp. A): each minibatch mixed with a derangement of itself in the
# data preprocessor (BatchLossMix), lam ~ Beta(1, 1); the gts of both images
# are kept with loss weights lam and 1 - lam, and a positive point takes its
# gt's weight in the focal, IoU and centerness losses (Eq. 14). Not in the
# paper (which trains Faster R-CNN only): this detector; its schedule, pipeline
# and optimiser are mmdet's stock ones.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=1.0)]),
    bbox_head=dict(type='LossMixFCOSHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
