# Noise mixing in the domain-adaptation teacher (paper Table 4 "Noise",
# 44.9 AP50 on Clipart1k): the mixed-in image at lam ~ U(0, 0.2), only the
# dominant image's boxes (source or pseudo) at weight 1.
_base_ = './mixed-teacher_faster-rcnn_r101_fpn_lossmix_4xb2+2-60k_voc0712-clipart1k.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(mixer=dict(mode='noise', noise_range=(0.0, 0.2)))
