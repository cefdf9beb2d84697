# Union mixing in the domain-adaptation teacher (paper Table 4 "Union",
# 50.0 AP50 on Clipart1k): the same mixed batches, every box (source and
# pseudo) at weight 1.
_base_ = './mixed-teacher_faster-rcnn_r101_fpn_lossmix_4xb2+2-60k_voc0712-clipart1k.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(mixer=dict(mode='union'))
