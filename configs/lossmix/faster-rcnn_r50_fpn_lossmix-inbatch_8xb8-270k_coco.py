# LossMix with in-batch mixing (the paper's own implementation, supp. A),
# Faster R-CNN R50-FPN, COCO 3x: one data loader, each GPU's batch mixed with
# a random permutation of itself in the data preprocessor.
#
# The paper's numbers (val2017, bbox AP / AP50 / AP75), LossMix, Table 2:
#   41.82 / 62.51 / 45.81
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='lossmix', alpha=1.0, partner='random')
    ]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
