# Region-based LossMix on RTMDet-s, COCO: mmdet's RTMDet recipe with its
# CachedMosaic and CachedMixUp replaced by their LossMix subclasses, so every
# box weighs w = c * v (issue 18): c the pixel coefficient of its image (1 for
# a mosaic tile, 0.5 / 0.5 for the MixUp blend), v the share of its annotated
# area still visible after the mosaic's tile borders, RandomCrop and MixUp's
# clips. mmdet keeps every clipped box at weight 1 (the Union sibling,
# `rtmdet_s_union-mosaic_8xb32-300e_coco.py`, differs only in the mixing
# transforms, the box type and the packer). Not in the paper (which trains
# Faster R-CNN with blends only): this detector and the region rule.
_base_ = 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

backend_args = None
# the whole list restated (lists never merge): mmdet's RTMDet-s pipeline with
# the per-box fields loaded on the boxes ('lossmix_hbox'), so that every mmdet
# transform after the mosaic (RandomResize, RandomCrop, Pad, flip) carries and
# updates them
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, box_type='lossmix_hbox'),
    dict(
        type='LossMixCachedMosaic',
        img_scale=(640, 640),
        pad_val=114.0,
        mode='lossmix'),
    dict(
        type='RandomResize',
        scale=(1280, 1280),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    # alpha=None keeps mmdet's fixed 0.5 blend: the same images as the Union
    # sibling for the same random state, only the weights differ (alpha=1.0
    # would draw lam ~ Beta(1, 1) as the paper)
    dict(
        type='LossMixCachedMixUp',
        img_scale=(640, 640),
        ratio_range=(1.0, 1.0),
        max_cached_images=20,
        pad_val=(114, 114, 114),
        mode='lossmix',
        alpha=None),
    # w = c * v; the thresholds are the study's to choose (docs, issue 18
    # item 6): 0 / 0 keeps every box that shows a pixel, weighted
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
]
# mmdet's stage 2 (last 20 epochs, no mosaic or mixup): RandomCrop still cuts
# boxes, so they keep the LossMix box type and packer
train_pipeline_stage2 = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, box_type='lossmix_hbox'),
    dict(
        type='RandomResize',
        scale=(640, 640),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(640, 640)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# mmdet's hooks, restated to plug in the stage-2 pipeline above
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    dict(
        type='PipelineSwitchHook',
        switch_epoch=280,
        switch_pipeline=train_pipeline_stage2)
]

# the LossMix head takes every argument of RTMDetSepBNHead: only the type
# changes, the rest of the head is merged on purpose
model = dict(bbox_head=dict(type='LossMixRTMDetSepBNHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
