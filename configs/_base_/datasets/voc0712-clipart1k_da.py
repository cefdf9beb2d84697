# Domain adaptation PASCAL VOC 07+12 trainval (labelled source) -> Clipart1k
# (unlabelled target: its 500 train images; evaluation: its 500 test
# images), LossMix paper Sec. 5 / supp. C-D, on Adaptive Teacher's (AT's)
# recipe. Where each setting comes from:
# - short side 600, the paper: "All images are resized to have a shorter
#   side of 600 while maintaining their aspect ratios."
# - weak view = crop + flip, the paper: "Weak augmentations include random
#   horizontal flipping and cropping" (AT's own code does not crop; the
#   paper's text wins). The crop size is ours (the paper gives none): mmdet's
#   RandomCrop keeping 80-100 % of each side (relative_range 0.8), taken
#   BEFORE the resize so that the short side stays 600. On the source, a crop
#   must keep a box (allow_negative_crop=False, else another image is
#   drawn); the target loads no boxes, so there it must allow "negative"
#   crops.
# - strong view = the weak view's geometry + photometry, the paper: "strong
#   augmentations include random color jittering, grayscaling, Gaussian
#   blurring, and cutout". Probabilities and ranges are AT's (colour jitter
#   p 0.8, grayscale p 0.2, blur sigma 0.1-2 p 0.5); the colour jitter is
#   mmdet's PhotoMetricDistortion with ranges close to torchvision's
#   ColorJitter(0.4, 0.4, 0.4, 0.1) (brightness +-51 of 255 instead of
#   x[0.6, 1.4]; each of its operations has probability 0.5); cutout is
#   mmdet's RandomErasing with parameters of ours (1-5 square patches of up
#   to 20 % of each side; on a labelled view it drops a box only when >= 90 %
#   of it is erased, mmdet's default).
# - two views of every source image, AT's (the paper ran AT's code, which
#   trains the supervised loss on the strong and the weak source view): the
#   source MultiBranch gives 'sup' (weak) and 'sup_strong' (strong, same
#   geometry, with its boxes); the target gives 'unsup_teacher' (weak, for
#   the teacher's pseudo-labels) and 'unsup_student' (strong).
#   MixedDomainTeacher mixes each source view within itself.
# - metric: VOC AP50, area-based (VOC2012 style), as AT and the paper.
#
# Layout (Clipart1k is distributed in VOC format):
#   data/VOCdevkit/VOC2007, data/VOCdevkit/VOC2012
#   data/clipart/{JPEGImages,Annotations,ImageSets/Main/{train,test}.txt}
dataset_type = 'VOCDataset'
source_root = 'data/VOCdevkit/'
target_root = 'data/clipart/'
backend_args = None
img_scale = (1333, 600)  # short side 600

branch_field = ['sup', 'sup_strong', 'unsup_teacher', 'unsup_student']
unsup_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'homography_matrix')
# the strong view's photometric part, shared by source and target
strong_photometric = [
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
    dict(type='RandomErasing', n_patches=(1, 5), ratio=(0.0, 0.2))
]
# weak and strong views share the geometry: crop, resize and flip come
# before MultiBranch
sup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    # train on VOC 'difficult' boxes, as Detectron2's VOC loader (AT's)
    # does; the evaluation still ignores them
    dict(type='ClearIgnoreFlags'),
    dict(
        type='RandomCrop',
        crop_type='relative_range',
        crop_size=(0.8, 0.8),
        allow_negative_crop=False),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='MultiBranch',
        branch_field=branch_field,
        sup=dict(type='PackDetInputs'),
        sup_strong=strong_photometric + [dict(type='PackDetInputs')])
]
weak_pipeline = [dict(type='PackDetInputs', meta_keys=unsup_meta_keys)]
strong_pipeline = strong_photometric + [
    dict(type='PackDetInputs', meta_keys=unsup_meta_keys)
]
unsup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadEmptyAnnotations'),
    dict(
        type='RandomCrop',
        crop_type='relative_range',
        crop_size=(0.8, 0.8),
        allow_negative_crop=True),
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
