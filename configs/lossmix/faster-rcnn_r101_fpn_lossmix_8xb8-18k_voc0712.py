# Faster R-CNN R101-FPN on PASCAL VOC 07+12, LossMix (in-batch, as the paper)
# (paper Table 1 row): the R50 config with a ResNet-101 backbone (Detectron2's
# ImageNet-1k R-101, MSRA caffe style).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.91 / 82.84 / 62.72
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        # Detectron2's ImageNet-1k R-101 (MSRA, caffe style)
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
