# The domain-adaptation teacher's schedule and runtime (LossMix paper Sec. 5,
# supp. C-D, on Adaptive Teacher's recipe), shared by the MixedDomainTeacher
# configs of configs/lossmix_da/ (C4 and FPN):
#   iterations 0-19999      warmup, Eq. 15 (MixingScheduleHook's phase)
#   iteration 20000         teacher := student
#   iterations 20000-59999  adaptation, Eq. 16; teacher EMA, keep rate 0.9996
# SGD lr 0.01 (batch 4 GPUs x (2 + 2), within the paper's grid), a 100-
# iteration linear warm-up; teacher and student evaluated every 1000
# iterations (Adaptive Teacher's interval) and the best checkpoint of each
# kept: the paper selects "the model weights with higher performance among
# the two"; TeacherStudentBestHook says in the log which one that is.
warmup_iters = 20000
max_iters = 60000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='TeacherStudentValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)

custom_hooks = [
    dict(
        type='MixingScheduleHook', warmup_iters=warmup_iters,
        keep_rate=0.9996),
    # stop with a clear error at a NaN / inf total loss (mmdet's hook)
    dict(type='CheckInvalidLossHook', interval=50),
    # logs which of teacher and student is higher after every validation
    dict(type='TeacherStudentBestHook', metric='pascal_voc/mAP')
]
# DDP: the discriminator gets no gradient in the warmup phase (no L_disc in
# Eq. 15). find_unused_parameters=True marks its parameters ready and leaves
# their grads None, so SGD skips them as a 1-process run does; without it
# the 2nd iteration fails ("Expected to have finished reduction in the prior
# iteration"). A zero-weight L_disc in warmup would give zero grads instead,
# on which weight decay and momentum still act, and cost the weak views'
# extra forward and backward every warmup iteration; the flag costs one
# autograd-graph traversal per iteration (tests/test_tools/
# test_dist_equality.py runs the toy DA config on 2 processes).
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
