# Domain adaptation PASCAL VOC 07+12 trainval (labelled source) -> Clipart1k
# (unlabelled target: its 500 train images; evaluation: its 500 test
# images), LossMix paper Sec. 5 / supp. C-D, following Adaptive Teacher:
# short side 600; weak view = resize + flip; strong view = the weak view's
# geometry + colour jitter (p 0.8), grayscale (p 0.2), Gaussian blur
# (sigma 0.1-2, p 0.5) and random erasing. VOC AP50, area-based (VOC2012).
#
# Layout (Clipart1k is distributed in VOC format):
#   data/VOCdevkit/VOC2007, data/VOCdevkit/VOC2012
#   data/clipart/{JPEGImages,Annotations,ImageSets/Main/{train,test}.txt}
#
# Colour jitter is mmdet's PhotoMetricDistortion with ranges close to
# torchvision's ColorJitter(0.4, 0.4, 0.4, 0.1) (brightness +-51 of 255
# instead of x[0.6, 1.4]); each of its operations has probability 0.5.
dataset_type = 'VOCDataset'
source_root = 'data/VOCdevkit/'
target_root = 'data/clipart/'
backend_args = None
img_scale = (1333, 600)  # short side 600

branch_field = ['sup', 'unsup_teacher', 'unsup_student']
unsup_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'homography_matrix')
sup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='MultiBranch',
        branch_field=branch_field,
        sup=dict(type='PackDetInputs'))
]
weak_pipeline = [dict(type='PackDetInputs', meta_keys=unsup_meta_keys)]
strong_pipeline = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='PhotoMetricDistortion',
                brightness_delta=51,
                contrast_range=(0.6, 1.4),
                saturation_range=(0.6, 1.4),
                hue_delta=18)
        ],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
    dict(type='RandomGaussianBlur', sigma_range=(0.1, 2.0), prob=0.5),
    dict(type='RandomErasing', n_patches=(1, 5), ratio=(0.0, 0.2)),
    dict(type='PackDetInputs', meta_keys=unsup_meta_keys)
]
# weak and strong views share the geometry: resize and flip come first
unsup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadEmptyAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='MultiBranch',
        branch_field=branch_field,
        unsup_teacher=weak_pipeline,
        unsup_student=strong_pipeline)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

source_dataset = dict(
    type='ConcatDataset',
    ignore_keys=['dataset_type'],
    datasets=[
        dict(
            type=dataset_type,
            data_root=source_root,
            ann_file=f'{year}/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root=f'{year}/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=sup_pipeline,
            backend_args=backend_args) for year in ('VOC2007', 'VOC2012')
    ])
target_dataset = dict(
    type=dataset_type,
    data_root=target_root,
    ann_file='ImageSets/Main/train.txt',
    data_prefix=dict(sub_data_root=''),
    filter_cfg=dict(filter_empty_gt=False),
    pipeline=unsup_pipeline,
    backend_args=backend_args)

# every batch (per GPU): 2 source + 2 target images (GroupMultiSourceSampler)
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(
        type='GroupMultiSourceSampler', batch_size=4, source_ratio=[1, 1]),
    dataset=dict(
        type='ConcatDataset',
        ignore_keys=['dataset_type'],
        datasets=[source_dataset, target_dataset]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=target_root,
        ann_file='ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator
