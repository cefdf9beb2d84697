# Union sibling of the region-based LossMix toy RetinaNet: the same Mosaic +
# RandomAffine + MixUp draws (images identical for the same random state),
# every box that overlaps the image kept at weight 1, however little of it
# is left, as mmdet's YOLOX/RTMDet pipelines train.
_base_ = './retinanet_r18_fpn_lossmix-mosaic_1xb4-800it_toy.py'

inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True)
]
train_pipeline = [
    dict(
        type='LossMixMosaic',
        img_scale=_base_.img_scale,
        pad_val=114.0,
        mode='union'),
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.5, 1.5),
        border=(-_base_.img_scale[0] // 2, -_base_.img_scale[1] // 2)),
    dict(
        type='LossMixMixUp',
        img_scale=_base_.img_scale,
        ratio_range=(0.8, 1.6),
        pad_val=114.0,
        alpha=1.0,
        mode='union'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(
    dataset=dict(
        dataset=dict(pipeline=inner_pipeline), pipeline=train_pipeline))
