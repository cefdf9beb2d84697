# LossMix on Faster R-CNN R50-FPN, PASCAL VOC 07+12 (paper Table 1 / Table 3
# "LossMix (default)"): every training image is mixed with a random partner,
# lam ~ Beta(1, 1); the gts of both images are kept with loss weights lam and
# 1 - lam, and the RPN and RoI heads scale the positive samples' cls and reg
# targets by them (L = lam * L(y_i) + (1 - lam) * L(y_j), Eq. 14).
# Parent of the Table 3 ablations (`..._lossmix-*_8xb8-18k_voc0712.py`).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.87 / 82.44 / 62.88
#   Table 3 (best-AP checkpoint):   56.60 / 82.17 / 63.59
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead (plus mix_cls=True, mix_reg=True): only the type changes.
model = dict(
    rpn_head=dict(type='LossMixRPNHead'), roi_head=dict(type='LossMixRoIHead'))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        dataset=_base_.mix_inner_dataset,  # VOC 07+12: load, resize, flip
        pipeline=[
            dict(type='LossMixPair', mode='lossmix', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
