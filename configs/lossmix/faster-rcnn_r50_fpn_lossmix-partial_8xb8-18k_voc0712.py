# LossMix-Partial (paper Table 3, "w/ early stop"), R50-FPN, VOC 07+12: "we
# train the model with LossMix for the first 16k iterations out of a total of
# 18k", then plain training: MixingScheduleHook sets BatchLossMix's prob to 0
# from iteration 16000 on (the heads then see all-ones weights, i.e. the
# stock losses).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.42 / 82.20 / 62.93
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

custom_hooks = [
    dict(type='MixingScheduleHook', schedule=[dict(iter=16000, prob=0.0)])
]
