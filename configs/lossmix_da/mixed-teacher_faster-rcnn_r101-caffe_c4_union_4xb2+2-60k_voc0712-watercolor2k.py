# Union mixing in the domain-adaptation teacher, VOC -> Watercolor2k: the
# Clipart1k Union config's setting on the Watercolor2k LossMix config (the
# paper reports Union on Clipart1k only, Table 4: 50.0 AP50). Every mixed
# box (source and pseudo) at weight 1, lam ~ Beta(1, 1).
_base_ = './mixed-teacher_faster-rcnn_r101-caffe_c4_lossmix_4xb2+2-60k_voc0712-watercolor2k.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(mixer=dict(mode='union'))
