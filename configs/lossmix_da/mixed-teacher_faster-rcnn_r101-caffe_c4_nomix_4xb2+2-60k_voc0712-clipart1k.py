# The Adaptive-Teacher-style baseline (paper Table 4 "AT": 49.3 in AT's
# paper, 46.7 reproduced with AT's code): the same detector, teacher,
# discriminator, data and schedule, no mixing: warmup on the source views
# alone; adaptation on the source views + the strong target views with
# pseudo-labels + 0.1 L_disc.
_base_ = './mixed-teacher_faster-rcnn_r101-caffe_c4_lossmix_4xb2+2-60k_voc0712-clipart1k.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    mixer=None,
    semi_train_cfg=dict(loss_weights=dict(mss=1.0, nst=0.0, mtt=1.0, mst=0.0)))
