# Union sibling of `rtmdet_tiny_lossmix-mosaic_1xb4-800it_toy.py`: mmdet's
# own RTMDet pipeline (CachedMosaic, RandomResize, RandomCrop, HSV, flip,
# pad, CachedMixUp at a fixed 0.5 blend, PackDetInputs) on the same toy
# RTMDet, where every box that keeps a pixel weighs 1. The pair differs only
# in the mixing transforms, the box type and the packer; the LossMix head
# computes exactly RTMDetSepBNHead's losses without loss weights.
_base_ = './rtmdet_tiny_lossmix-mosaic_1xb4-800it_toy.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='CachedMosaic',
        img_scale=_base_.img_scale,
        pad_val=114.0,
        max_cached_images=20,
        random_pop=False),
    dict(
        type='RandomResize',
        scale=(_base_.img_scale[0] * 2, _base_.img_scale[1] * 2),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.img_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=_base_.img_scale, pad_val=_base_.pad_img),
    dict(
        type='CachedMixUp',
        img_scale=_base_.img_scale,
        ratio_range=(1.0, 1.0),
        max_cached_images=10,
        random_pop=False,
        pad_val=(114, 114, 114),
        prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
