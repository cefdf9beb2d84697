# LossMix on RTMDet-l, COCO: RTMDet's own pipeline around the mixing, with
# its CachedMixUp (Union mixing) replaced by the paper's in-batch LossMix
# (supp. A): each minibatch mixed with a derangement of itself in the data
# preprocessor (BatchLossMix), lam ~ Beta(1, 1), after CachedMosaic, crop,
# HSV and flip; a positive prior takes its gt's weight in the quality focal
# and GIoU losses (Eq. 14). Not in the paper (which trains Faster R-CNN
# only): this detector. Ours: BatchLossMix also mixes in the last 20 epochs,
# where PipelineSwitchHook turns off mosaic (RTMDet's MixUp stops there).
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
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=1.0)]),
    bbox_head=dict(type='LossMixRTMDetSepBNHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
