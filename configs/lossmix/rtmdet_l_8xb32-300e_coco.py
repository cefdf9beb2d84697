# RTMDet-l, COCO, without image mixing: mmdet's stock config with its
# CachedMixUp removed (mmdet's MixUp keeps the boxes of both images with weight
# 1: the stock RTMDet is a Union-mixing config) and the LossMix head, which on
# data without gt_instances.loss_weights computes exactly RTMDetSepBNHead's
# losses (tested). Everything else of RTMDet's pipeline (CachedMosaic, random
# resize and crop, HSV, flip, pad; the stage-2 switch of PipelineSwitchHook)
# is kept.
_base_ = 'mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

train_pipeline = [
    t for t in _base_.train_pipeline if t['type'] != 'CachedMixUp'
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# the LossMix head takes every argument of RTMDetSepBNHead: only the type
# changes, the rest of the head is merged on purpose
model = dict(bbox_head=dict(type='LossMixRTMDetSepBNHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
