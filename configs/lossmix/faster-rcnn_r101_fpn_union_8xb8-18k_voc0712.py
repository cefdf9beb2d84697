# Faster R-CNN R101-FPN on PASCAL VOC 07+12, "Union" mixing (paper Table 1):
# the R50 config with a ResNet-101 backbone (ImageNet init).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.01 / 82.56 / 61.50
_base_ = './faster-rcnn_r50_fpn_union_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
