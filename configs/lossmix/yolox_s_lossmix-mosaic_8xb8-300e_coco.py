# Region-based LossMix on YOLOX-s, COCO: mmdet's YOLOX recipe with its Mosaic
# and MixUp replaced by their LossMix subclasses, so every box weighs
# w = c * v (issue 18): c the pixel coefficient of its image (1 for a mosaic
# tile, 0.5 / 0.5 for the MixUp blend), v the share of its annotated area
# still visible after the mosaic's tile borders, RandomAffine's and MixUp's
# clips. mmdet keeps every clipped box that shows a pixel at weight 1 (the
# Union sibling, `yolox_s_union-mosaic_8xb8-300e_coco.py`, differs only in
# the mixing transforms, the box type and the packer). Not in the paper
# (which trains Faster R-CNN with blends only): this detector and the region
# rule.
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

img_scale = (640, 640)  # width, height (mmdet's)
backend_args = None
# the whole list restated (lists never merge)
train_pipeline = [
    dict(
        type='LossMixMosaic',
        img_scale=img_scale,
        pad_val=114.0,
        mode='lossmix'),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.1, 2),
        # img_scale is (width, height)
        # mmdet 3.3's RandomAffine has no area filter (mmdet 2's and
        # mmyolo's min_area_ratio): it drops only boxes left with no pixel,
        # and its clip multiplies v, so min_visible alone decides on
        # truncated boxes; nothing to set here
        border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    # alpha=None keeps mmdet's fixed 0.5 blend: the same images as the Union
    # sibling for the same random state, only the weights differ (alpha=1.0
    # would draw lam ~ Beta(1, 1) as the paper)
    dict(
        type='LossMixMixUp',
        img_scale=img_scale,
        ratio_range=(0.8, 1.6),
        pad_val=114.0,
        mode='lossmix',
        alpha=None),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    # Resize and Pad are for the last 15 epochs, when YOLOXModeSwitchHook
    # skips the mosaic, the affine and the mixup (mmdet's)
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='Pad',
        pad_to_square=True,
        pad_val=dict(img=(114.0, 114.0, 114.0))),
    # mmdet's size filter (boxes under 1 pixel wide or high, whole or cut),
    # not a visibility one: kept
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    # w = c * v; the thresholds are the study's to choose (docs, issue 18
    # item 6): 0 / 0 keeps every box that shows a pixel, weighted
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
]
train_dataloader = dict(
    dataset=dict(
        # the per-box fields ride on the boxes from loading on ('lossmix_hbox')
        dataset=dict(pipeline=[
            dict(type='LoadImageFromFile', backend_args=backend_args),
            dict(
                type='LoadAnnotations',
                with_bbox=True,
                box_type='lossmix_hbox')
        ]),
        pipeline=train_pipeline))

# mmdet's hooks, restated: YOLOXModeSwitchHook skips transforms by class
# name, so it names the LossMix ones (the last 15 epochs train without
# mosaic, affine and mixup, as mmdet's)
custom_hooks = [
    dict(
        type='YOLOXModeSwitchHook',
        num_last_epochs=15,
        skip_type_keys=('LossMixMosaic', 'RandomAffine', 'LossMixMixUp'),
        priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0001,
        update_buffers=True,
        priority=49)
]

# the LossMix head takes every argument of YOLOXHead: only the type changes,
# the rest of the head is merged on purpose
model = dict(bbox_head=dict(type='LossMixYOLOXHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
