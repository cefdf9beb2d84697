# LossMix on the toy shapes with RetinaNet: every training image is mixed
# with a partner drawn from the dataset (LossMixPair, lam ~ Beta(1, 1)); own
# boxes weigh lam, the partner's 1 - lam, in the focal and box losses of the
# anchors assigned to them (LossMixRetinaHead, set in the baseline config).
# Only the training data differ from the baseline.
_base_ = './retinanet_r18_fpn_1xb4-800it_toy.py'

# per image, before mixing: loading, resizing and flipping
inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=_base_.img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5)
]
train_pipeline = [
    dict(type='LossMixPair', mode='lossmix', alpha=1.0),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        dataset=dict(
            type=_base_.dataset_type,
            data_root=_base_.data_root,
            metainfo=_base_.metainfo,
            ann_file='annotations/train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=8),
            pipeline=inner_pipeline,
            backend_args=_base_.backend_args),
        pipeline=train_pipeline))
