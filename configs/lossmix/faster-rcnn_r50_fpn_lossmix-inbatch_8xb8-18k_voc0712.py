# LossMix with in-batch mixing (the paper's own implementation, supp. A),
# Faster R-CNN R50-FPN, PASCAL VOC 07+12: one data loader, exactly the
# baseline's data; the data preprocessor mixes each GPU's batch of 8 with a
# random permutation of itself after normalisation (lam ~ Beta(1, 1)), so no
# second image is loaded. Padding outside the two images is the mean pixel.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75), LossMix:
#   Table 1 (best-AP50 checkpoint): 55.87 / 82.44 / 62.88
#   Table 3 (best-AP checkpoint):   56.60 / 82.17 / 63.59
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='lossmix', alpha=1.0, partner='random')
    ]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
