# PASCAL VOC 07+12 trainval -> VOC07 test, LossMix paper setting (supp. B):
# multi-scale training (short side 480..800 step 32, long side <= 1333),
# random horizontal flip, test at short side 800; AP over IoU 0.50:0.95
# (VOC07 11-point AP per threshold) plus AP50/AP75.
#
# What mmdet's `_base_/datasets/voc0712.py` lacks: the multi-scale pipeline,
# training on "difficult" boxes (Detectron2's VOC loader, which the paper
# follows, keeps them for training; mmdet's VOCDataset flags them ignored,
# `ClearIgnoreFlags` clears the flags in the training pipeline only -- the
# evaluation, like Detectron2's, still ignores them), an iteration sampler
# (no RepeatDataset), the COCO-style IoU sweep and the pieces of the
# pair-mixing variants (`mix_inner_pipeline`, `mix_inner_dataset`: the
# training data *without* the packer, to be wrapped by
# `MultiImageMixDataset` with `[LossMixPair, PackLossMixInputs]`).
dataset_type = 'VOCDataset'
data_root = 'data/VOCdevkit/'
backend_args = None

# everything up to the packer; shared by the no-mix and the mixing variants
mix_inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    # Detectron2 trains on VOC "difficult" boxes (mmdet would ignore them)
    dict(type='ClearIgnoreFlags'),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 480), (1333, 512), (1333, 544), (1333, 576),
                (1333, 608), (1333, 640), (1333, 672), (1333, 704),
                (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = mix_inner_pipeline + [dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # avoid bboxes being resized
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

# 07+12 trainval, loaded/resized/flipped but not packed: the `dataset` of a
# MultiImageMixDataset whose pipeline is [LossMixPair, PackLossMixInputs].
# VOCDataset puts a different `dataset_type` (VOC2007/VOC2012) in each
# metainfo; ConcatDataset refuses that unless it ignores the key.
mix_inner_dataset = dict(
    type='ConcatDataset',
    ignore_keys=['dataset_type'],
    datasets=[
        dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='VOC2007/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root='VOC2007/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=mix_inner_pipeline,
            backend_args=backend_args),
        dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='VOC2012/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root='VOC2012/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=mix_inner_pipeline,
            backend_args=backend_args)
    ])

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=train_pipeline,
                backend_args=backend_args),
            dict(
                type=dataset_type,
                data_root=data_root,
                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2012/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=train_pipeline,
                backend_args=backend_args)
        ]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# Detectron2's VOC evaluator: VOC07 11-point AP at IoU 0.50, 0.55, ..., 0.95.
# Logged keys: 'pascal_voc/mAP' (mean over the thresholds = the paper's AP),
# 'pascal_voc/AP50', 'pascal_voc/AP55', ..., 'pascal_voc/AP95'.
val_evaluator = dict(
    type='VOCMetric',
    metric='mAP',
    iou_thrs=[0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95],
    eval_mode='11points')
test_evaluator = val_evaluator
