# Region-based LossMix on a toy RTMDet, trained from scratch on the generated
# toy shapes on two CPU cores: mmdet's RTMDet recipe (CachedMosaic,
# RandomResize, RandomCrop, HSV, flip, pad, CachedMixUp at a fixed 0.5
# blend) shrunk to the toy's 192 px, with the mixing transforms replaced by
# their LossMix subclasses so that every box weighs w = c * v (issue 18): c
# the pixel coefficient of its image (1 for a mosaic tile, 0.5 / 0.5 for the
# blend), v the share of its annotated area still visible after the tile
# borders, the crop and the blend's clips. The Union sibling
# (`rtmdet_tiny_union-mosaic_1xb4-800it_toy.py`) is mmdet's own pipeline.
#   python tools/generate_toy_data.py --out data/toy --seed 0
# Lean model: CSPNeXt at deepen 0.167 / widen 0.25 (stage widths 32-256),
# 64-channel PAFPN and head, random init, BN for SyncBN (one process). No
# stage-2 pipeline switch: it is epoch-based and this schedule counts
# iterations.
_base_ = [
    '../_base_/datasets/toy_detection.py', 'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

norm_cfg = dict(type='BN')
act_cfg = dict(type='SiLU', inplace=True)
model = dict(
    type='RTMDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        batch_augments=None),
    backbone=dict(
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.167,
        widen_factor=0.25,
        channel_attention=True,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg,
        init_cfg=None),
    neck=dict(
        type='CSPNeXtPAFPN',
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        expand_ratio=0.5,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    bbox_head=dict(
        type='LossMixRTMDetSepBNHead',
        num_classes=3,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        anchor_generator=dict(
            type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        loss_cls=dict(
            type='QualityFocalLoss',
            use_sigmoid=True,
            beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        with_objectness=False,
        exp_on_reg=False,
        share_conv=True,
        pred_kernel_size=1,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    train_cfg=dict(
        assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.65),
        max_per_img=100))

img_scale = (192, 192)
backend_args = None
pad_img = dict(img=(114, 114, 114))
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # the per-box fields ride on the boxes through every mmdet transform
    dict(type='LoadAnnotations', with_bbox=True, box_type='lossmix_hbox'),
    dict(
        type='LossMixCachedMosaic',
        img_scale=img_scale,
        pad_val=114.0,
        max_cached_images=20,
        random_pop=False,
        mode='lossmix'),
    dict(
        type='RandomResize',
        scale=(img_scale[0] * 2, img_scale[1] * 2),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=pad_img),
    # alpha=None keeps mmdet's fixed 0.5 blend: the Union sibling's images
    # for the same random state, only the weights differ
    dict(
        type='LossMixCachedMixUp',
        img_scale=img_scale,
        ratio_range=(1.0, 1.0),
        max_cached_images=10,
        random_pop=False,
        pad_val=(114, 114, 114),
        prob=0.5,
        mode='lossmix',
        alpha=None),
    # w = c * v; thresholds 0 / 0: every box that shows a pixel, weighted
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=pad_img),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# the mosaic's fixed output size needs no aspect-ratio grouping; an endless
# sampler: no stall of the loader every (short) epoch
train_dataloader = dict(
    batch_sampler=None,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 800
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
base_lr = 0.002
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min=base_lr * 0.05,
        begin=max_iters // 2,
        end=max_iters,
        T_max=max_iters // 2,
        by_epoch=False)
]

default_hooks = dict(
    # a resumed run draws the uninterrupted run's random numbers
    random_state=dict(type='RandomStateHook'),
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=400, max_keep_ckpts=2))
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49)
]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
