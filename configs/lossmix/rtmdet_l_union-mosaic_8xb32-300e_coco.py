# Union Mosaic + MixUp on RTMDet-l, COCO: mmdet's own RTMDet recipe
# (CachedMosaic, RandomResize, RandomCrop, HSV, flip, pad, CachedMixUp at a
# fixed 0.5 blend, the stage-2 switch of PipelineSwitchHook), where every box
# that keeps a pixel weighs 1, with the LossMix head (without loss weights it
# computes exactly RTMDetSepBNHead's losses). The Union sibling of
# `rtmdet_l_lossmix-mosaic_8xb32-300e_coco.py`: the pair differs only in the
# mixing transforms, the box type and the packer. Not in the paper (which
# trains Faster R-CNN with blends only).
_base_ = 'mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix head takes every argument of RTMDetSepBNHead: only the type
# changes, the rest of the head is merged on purpose
model = dict(bbox_head=dict(type='LossMixRTMDetSepBNHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
