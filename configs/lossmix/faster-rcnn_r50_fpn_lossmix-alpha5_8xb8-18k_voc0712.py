# LossMix ablation "alpha = 5.0" (paper Table 3), R50-FPN, VOC 07+12:
# lam ~ Beta(5.0, 5.0) instead of Beta(1, 1); otherwise the LossMix config
# (in-batch mixing, as the paper).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.18 / 82.21 / 62.72
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# lists do not merge: the whole batch_augments list is restated
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=5.0)]))
