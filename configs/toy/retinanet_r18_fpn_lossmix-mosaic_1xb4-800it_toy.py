# Region-based LossMix on the toy shapes with RetinaNet (the one-stage row of
# the region study, docs/region_mixing_toy.md): the toy Faster R-CNN's Mosaic
# + RandomAffine + MixUp pipeline (YOLOX's, scales shrunk to 192 px), each
# box weighted w = c * v: c the pixel coefficient of its image (lam / 1 - lam
# for the MixUp blend, lam ~ Beta(1, 1); 1 for a Mosaic tile), v the share of
# its area still visible after the tile border, the affine crop and the
# MixUp crop. The union sibling runs the same transforms with every weight 1.
_base_ = './retinanet_r18_fpn_1xb4-800it_toy.py'

# per image, before mixing: boxes that carry their weight and visible share
inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True, box_type='lossmix_hbox')
]
train_pipeline = [
    dict(type='LossMixMosaic', img_scale=_base_.img_scale, pad_val=114.0),
    # border: crop the 2x mosaic back to the image scale
    dict(
        type='RandomAffine',
        scaling_ratio_range=(0.5, 1.5),
        border=(-_base_.img_scale[0] // 2, -_base_.img_scale[1] // 2)),
    dict(
        type='LossMixMixUp',
        img_scale=_base_.img_scale,
        ratio_range=(0.8, 1.6),
        pad_val=114.0,
        alpha=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    # thresholds on v: 0 / 0, chosen by docs/region_mixing_toy.md
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
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
