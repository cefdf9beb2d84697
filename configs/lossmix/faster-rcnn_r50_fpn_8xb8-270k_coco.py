# Faster R-CNN R50-FPN on COCO, no mixing: the LossMix paper's "Baseline"
# (supp. B: ImageNet init, SyncBN, SGD lr 0.08, batch 64 = 8 GPUs x 8 images,
# Detectron2 3x step schedule of 270k iterations, 100-iteration warm-up,
# multi-scale training 640..800, test 800). Parent of every COCO config here.
#
# "We follow most of the default configurations of Detectron2" (supp. B):
# where mmdet's defaults differ from Detectron2's, this config takes
# Detectron2's (each marked "Detectron2" below):
#   - backbone: Detectron2's ImageNet R-50/R-101 are the MSRA caffe weights
#     (mmdet style='caffe', BGR input, mean [103.530, 116.280, 123.675],
#     std 1), not torchvision's;
#   - SOLVER.WEIGHT_DECAY_NORM = 0: no weight decay on normalisation layers
#     (biases keep it: WEIGHT_DECAY_BIAS defaults to WEIGHT_DECAY).
# Crowd boxes need nothing: Detectron2 drops them from training, mmdet's
# CocoDataset flags them ignored and Faster R-CNN's assigners do not use
# ignored boxes (ignore_iof_thr=-1).
# Ours, not the paper's: evaluation every 10k iterations (see `train_cfg`).
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 40.41 / 60.95 / 43.95 / 24.59 / 43.82 / 51.82
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

model = dict(
    # Detectron2's MSRA weights expect BGR images, caffe mean, std 1
    data_preprocessor=dict(
        mean=[103.530, 116.280, 123.675],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False),
    backbone=dict(
        # SyncBN, trained (paper supp. B; Detectron2 would freeze BN)
        norm_cfg=dict(_delete_=True, type='SyncBN', requires_grad=True),
        norm_eval=False,
        # Detectron2's ImageNet-1k R-50 (MSRA, caffe style)
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')))

# everything up to the packer; shared by the no-mix and the mixing variants
mix_inner_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = mix_inner_pipeline + [dict(type='PackDetInputs')]
train_dataloader = dict(
    batch_size=8,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))

# Detectron2 3x step schedule: 270k iterations, lr x0.1 at 210k and 250k.
# The paper reports the best checkpoint, so the model is evaluated during
# training (Detectron2's TEST.EVAL_PERIOD defaults to 0: only at the end):
# every 10k iterations (~5.4 epochs of 118k images; 27 evaluations, seven of
# them from the first lr step on), ours.
max_iters = 270000
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=10000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[210000, 250000],
        gamma=0.1)
]
# Detectron2 SOLVER.WEIGHT_DECAY_NORM = 0.0 (WEIGHT_DECAY_BIAS = WEIGHT_DECAY)
optim_wrapper = dict(
    optimizer=dict(lr=0.08), paramwise_cfg=dict(norm_decay_mult=0.))
auto_scale_lr = dict(enable=False, base_batch_size=64)

# Table 2 picks the best-AP checkpoint (a checkpoint at every evaluation)
default_hooks = dict(
    # a resumed run draws the uninterrupted run's random numbers
    random_state=dict(type='RandomStateHook'),
    checkpoint=dict(
        by_epoch=False,
        interval=10000,
        max_keep_ckpts=3,
        save_best='coco/bbox_mAP',
        rule='greater'))
log_processor = dict(by_epoch=False)
