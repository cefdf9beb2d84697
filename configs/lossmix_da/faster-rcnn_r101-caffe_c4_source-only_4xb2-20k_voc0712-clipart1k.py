# Source only (paper Table 4, 28.8 AP50 on Clipart1k): the teacher's
# detector -- Adaptive Teacher's (AT's) Faster R-CNN R101 "C4" (MSRA
# caffe-style ImageNet R-101 up to res4, RPN on res4, 7x7 RoIs into a 2-fc
# box head; see the mixed-teacher C4 config) with mmdet's stock heads --
# trained on PASCAL VOC 07+12 alone and evaluated on Clipart1k test.
# The paper: "we follow previous works [6, 23] and use Faster RCNN [48]
# with a ResNet-101 [12] backbone"; "All images are resized to have a
# shorter side of 600". Ours: batch 8 (4 GPUs x 2), SGD lr 0.01, 20k
# iterations (the teacher's warmup length), evaluation every 1000
# iterations (AT's), and the teacher's weak augmentation (random crop
# keeping 80-100 % of each side, then flip: the paper's "Weak augmentations
# include random horizontal flipping and cropping") so that this is the
# teacher's warmup without mixing.
#   tools/dist_train.sh <this config> 4
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py',
    '../_base_/datasets/voc0712-clipart1k_da.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')),
    roi_head=dict(
        # no res5 shared head: 7x7 RoIs of res4 into two 1024-wide fc layers
        shared_head=None,
        bbox_roi_extractor=dict(roi_layer=dict(output_size=7)),
        bbox_head=dict(
            _delete_=True,
            type='Shared2FCBBoxHead',
            in_channels=1024,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=20,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))))

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
