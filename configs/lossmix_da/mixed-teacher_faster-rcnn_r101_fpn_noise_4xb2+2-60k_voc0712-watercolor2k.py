# Noise mixing in the domain-adaptation teacher, VOC -> Watercolor2k: the
# mixed-in image at lam ~ U(0, 0.2), only the dominant image's boxes at
# weight 1. (The paper reports Noise on Clipart1k only, Table 4: 44.9 AP50.)
_base_ = './mixed-teacher_faster-rcnn_r101_fpn_lossmix_4xb2+2-60k_voc0712-watercolor2k.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(mixer=dict(mode='noise', noise_range=(0.0, 0.2)))
