# LossMix domain adaptation, PASCAL VOC 07+12 -> Clipart1k (paper Sec. 5,
# Table 4): an Adaptive-Teacher-style mean teacher (MixedDomainTeacher) of a
# Faster R-CNN R101-FPN (ImageNet init), short side 600.
#   iterations 0-19999      warmup, Eq. 15: L_mss + L_nst (lam_target < 0.1)
#   iteration 20000         teacher := student
#   iterations 20000-59999  adaptation, Eq. 16: L_mss + L_mtt + L_mst
#                           + 0.1 L_disc; teacher EMA, keep rate 0.9996
# Pseudo-labels: teacher scores > 0.8 on the weak view. Discriminator: the
# stride-16 FPN level behind a gradient-reversal layer.
# Batch 8 source + 8 target images (4 GPUs x (2 + 2): in-batch mixing needs
# two images of a domain per GPU), SGD lr 0.01. The
# paper searched batch {8, 2} x lr {0.002, 0.005, 0.01} and reports the best
# checkpoint, which it found within the first 20k adaptation iterations:
# both teacher and student are evaluated every 2k iterations and the best
# teacher AP50 checkpoint is kept.
#   tools/dist_train.sh <this config> 4
#
# The paper's numbers (Clipart1k test, VOC AP50): source only 28.8,
# Adaptive Teacher 49.3 (reproduced 46.7), Noise 44.9, Union 50.0,
# LossMix 51.1.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/voc0712-clipart1k_da.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

detector = _base_.model
detector.backbone.depth = 101
detector.backbone.init_cfg = dict(
    type='Pretrained', checkpoint='torchvision://resnet101')
# LossMix heads: per-box loss weights from the mixing (stock losses without)
detector.rpn_head.type = 'LossMixRPNHead'
detector.roi_head.type = 'LossMixRoIHead'
detector.roi_head.bbox_head.num_classes = 20

model = dict(
    _delete_=True,
    type='MixedDomainTeacher',
    detector=detector,
    data_preprocessor=dict(
        type='MultiBranchDataPreprocessor',
        data_preprocessor=detector.data_preprocessor),
    discriminator=dict(
        type='ImageDomainDiscriminator',
        in_channels=256,
        feat_channels=256,
        loss_weight=0.1),
    mixer=dict(type='BatchLossMix', mode='lossmix', alpha=1.0),
    semi_train_cfg=dict(
        freeze_teacher=True,
        cls_pseudo_thr=0.8,
        min_pseudo_bbox_wh=(1e-2, 1e-2),
        loss_weights=dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0),
        nst_noise_range=(0.0, 0.1),
        mst_lambda=None,
        disc_feature='neck',
        disc_level=2),
    semi_test_cfg=dict(predict_on='teacher'))

warmup_iters = 20000
max_iters = 60000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='TeacherStudentValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=100)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)

custom_hooks = [
    dict(type='MixingScheduleHook', warmup_iters=warmup_iters,
         keep_rate=0.9996),
    # stop with a clear error at a NaN / inf total loss (mmdet's hook)
    dict(type='CheckInvalidLossHook', interval=50)
]
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=2000,
        max_keep_ckpts=3,
        save_best='teacher/pascal_voc/mAP',
        rule='greater'))
log_processor = dict(by_epoch=False)
# the discriminator gets no gradient in the warmup phase
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
