# The Adaptive-Teacher-style baseline (paper Table 4 "AT", 49.3 in its
# paper, 46.7 reproduced): the same teacher, discriminator and schedule,
# no mixing: warmup on source only, adaptation on source + strong target
# views with pseudo-labels + 0.1 L_disc.
_base_ = './mixed-teacher_faster-rcnn_r101_fpn_lossmix_4xb2+2-60k_voc0712-clipart1k.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    mixer=None,
    semi_train_cfg=dict(loss_weights=dict(nst=0.0, mst=0.0)))
