# Union Mosaic + MixUp on YOLOX-s, COCO: mmdet's own YOLOX recipe (Mosaic,
# RandomAffine, MixUp at a fixed 0.5 blend, HSV, flip, its FilterAnnotations,
# YOLOXModeSwitchHook's last 15 epochs without them), where every box that
# keeps a pixel and passes the filter weighs 1, with the LossMix head
# (without loss weights it computes exactly YOLOXHead's losses). The Union
# sibling of `yolox_s_lossmix-mosaic_8xb8-300e_coco.py`: the pair differs only
# in the mixing transforms, the box type and the packer. Not in the paper
# (which trains Faster R-CNN with blends only).
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix head takes every argument of YOLOXHead: only the type changes,
# the rest of the head is merged on purpose
model = dict(bbox_head=dict(type='LossMixYOLOXHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
