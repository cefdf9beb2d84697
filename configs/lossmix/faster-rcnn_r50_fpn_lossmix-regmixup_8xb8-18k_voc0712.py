# LossMix ablation "LossMix-Reg" (paper Table 3, RegMixup-style), R50-FPN,
# VOC 07+12: each sample is mixed with probability 0.5, so about half of every
# batch is clean data (loss weight 1). The paper splits each batch exactly in
# half; per-sample mixing with p = 0.5 gives that split on average.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.31 / 81.92 / 62.40
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# lists do not merge: the whole wrapper pipeline is restated
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LossMixPair', mode='lossmix', alpha=1.0, prob=0.5),
        dict(type='PackLossMixInputs')
    ]))
