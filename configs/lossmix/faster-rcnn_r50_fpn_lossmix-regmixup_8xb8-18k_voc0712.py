# LossMix ablation "LossMix-Reg" (paper Table 3, RegMixup-style), R50-FPN,
# VOC 07+12: "half of the total batch size to be mixed data and the other
# half to be regular, non-mixed data" (supp. B). Ours: each image of the
# in-batch mixing is mixed with probability 0.5 (`BatchLossMix(prob=0.5)`),
# so half of every batch is clean (loss weight 1) on average, not exactly;
# a mixed image's partner may itself be one of the clean ones.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.31 / 81.92 / 62.40
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# lists do not merge: the whole batch_augments list is restated
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='lossmix', alpha=1.0, prob=0.5)
    ]))
