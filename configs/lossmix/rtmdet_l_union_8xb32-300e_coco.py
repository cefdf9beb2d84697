# Union mixing on RTMDet-l, COCO (the paper's baseline): the same in-batch
# image mixing as the LossMix config (BatchLossMix, lam ~ Beta(1, 1), in place
# of RTMDet's CachedMixUp) with the gts of both images kept with weight 1.
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
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='union', alpha=1.0)]),
    bbox_head=dict(type='LossMixRTMDetSepBNHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
