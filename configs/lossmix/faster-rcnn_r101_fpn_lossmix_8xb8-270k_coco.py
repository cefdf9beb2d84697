# Faster R-CNN R101-FPN on COCO, LossMix (in-batch, as the paper) (paper Table
# 2 row): the R50 config with a ResNet-101 backbone (Detectron2's ImageNet-1k
# R-101, MSRA caffe style).
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 44.07 / 64.48 / 48.40 / 26.73 / 48.11 / 56.80
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        # Detectron2's ImageNet-1k R-101 (MSRA, caffe style)
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
