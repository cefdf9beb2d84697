# The Adaptive-Teacher-style baseline of the toy domain adaptation: the same
# teacher, discriminator, data and schedule as the LossMix toy config, no
# mixing (warmup on source only; adaptation on source + strong target views
# with pseudo-labels + 0.1 L_disc).
_base_ = './mixed-teacher_faster-rcnn_r18_fpn_lossmix_1xb2+2-200+600it_toy2clipart.py'  # noqa
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    mixer=None, semi_train_cfg=dict(loss_weights=dict(nst=0.0, mst=0.0)))
