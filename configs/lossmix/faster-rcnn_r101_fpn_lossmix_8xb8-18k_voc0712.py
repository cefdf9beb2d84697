# Faster R-CNN R101-FPN on PASCAL VOC 07+12, LossMix (paper Table 1):
# the R50 config with a ResNet-101 backbone (ImageNet init).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.91 / 82.84 / 62.72
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
