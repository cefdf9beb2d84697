# Faster R-CNN trained from scratch on the generated toy shapes in minutes on
# two CPU cores: the no-mixing baseline of the toy study.
#   python tools/generate_toy_data.py --out data/toy --seed 0
# Lean model: ResNet-18 with base_channels=32 (stage widths 32-256), random
# init (no pretrained weights can be downloaded), BN trained (norm_eval
# False, no frozen stage), 64-channel FPN / RPN / RoI extractor, mmdet's
# 1024-wide 2-fc box head (0.314 bbox mAP at 800 iterations where a
# 256-wide one gave 0.205, for ~15 % more time), 128 sampled RoIs.
# The heads are LossMixRPNHead / LossMixRoIHead in all toy configs, this one
# included: on samples without gt_instances.loss_weights (no LossMixPair in
# the pipeline) they compute exactly the stock RPNHead / StandardRoIHead
# losses, and all three toy configs then differ only in their train data.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
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
    rpn_head=dict(
        _delete_=True,
        type='LossMixRPNHead',
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        _delete_=True,
        type='LossMixRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=3,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(sampler=dict(num=128))))

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
