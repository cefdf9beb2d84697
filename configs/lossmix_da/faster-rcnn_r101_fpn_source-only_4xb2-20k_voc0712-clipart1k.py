# Source only on a Faster R-CNN R101-FPN (torchvision ImageNet init): the
# FPN sibling (an option of ours) of
# faster-rcnn_r101-caffe_c4_source-only_4xb2-20k_voc0712-clipart1k.py, the
# paper's detector (paper Table 4: 28.8 AP50 on Clipart1k, for the C4
# detector), with the same data and schedule: PASCAL VOC 07+12 alone, short
# side 600 (the paper's), weak augmentation crop (80-100 % of each side) +
# flip (the paper's weak view), batch 8 (4 GPUs x 2), lr 0.01, 20k
# iterations, evaluated on Clipart1k test every 1000 iterations.
#   tools/dist_train.sh <this config> 4
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/voc0712-clipart1k_da.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')),
    roi_head=dict(bbox_head=dict(num_classes=20)))

source_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    # train on VOC 'difficult' boxes, as Detectron2's VOC loader (AT's)
    # does; the evaluation still ignores them
    dict(type='ClearIgnoreFlags'),
    dict(
        type='RandomCrop',
        crop_type='relative_range',
        crop_size=(0.8, 0.8),
        allow_negative_crop=False),
    dict(type='Resize', scale=(1333, 600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    _delete_=True,
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
                type='VOCDataset',
                data_root='data/VOCdevkit/',
                ann_file=f'{year}/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root=f'{year}/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=source_pipeline,
                backend_args=None) for year in ('VOC2007', 'VOC2012')
        ]))

max_iters = 20000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
default_hooks = dict(
    # a resumed run draws the uninterrupted run's random numbers
    random_state=dict(type='RandomStateHook'),
    checkpoint=dict(
        by_epoch=False,
        interval=2000,
        max_keep_ckpts=3,
        save_best='pascal_voc/mAP',
        rule='greater'))
log_processor = dict(by_epoch=False)
