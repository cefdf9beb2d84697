# RetinaNet trained from scratch on the generated toy shapes: the no-mixing
# baseline of the one-stage toy study (docs/quality_study_families.md).
#   python tools/generate_toy_data.py --out data/toy --seed 0
# mmdet's RetinaNet R50-FPN with the toy Faster R-CNN's lean backbone
# (ResNet-18, base_channels=32, random init, BN trained) and a 64-channel
# FPN and head; anchors, focal loss and assigner are mmdet's
# (retinanet_r50_fpn_1x_coco.py). Ours: GroupNorm in the head's 4 convs
# (as FCOS's GN head) and lr 0.02. The stock head (plain 3x3 convs, normal
# init std 0.01) at 64-128 channels shrinks its input per conv from scratch:
# it reached 0.001-0.09 bbox mAP at 600-1200 iterations (lr 0.01-0.04),
# the GN head 0.11 / 0.12 at 600 (lr 0.01 / 0.02). LossMixRetinaHead takes
# every RetinaHead argument, so only the type changes; on samples without
# gt_instances.loss_weights it computes exactly RetinaHead's losses (tested),
# and the three toy RetinaNet configs differ only in their train data.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/toy_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    bbox_head=dict(
        type='LossMixRetinaHead',
        num_classes=3,
        in_channels=64,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))

# an endless sampler: no stall of the loader every (short) epoch
train_dataloader = dict(
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True))

max_iters = 800
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[600, 750],
        gamma=0.1)
]

default_hooks = dict(
    # a resumed run draws the uninterrupted run's random numbers
    random_state=dict(type='RandomStateHook'),
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=400, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
