# Faster R-CNN R101-FPN on COCO, "Union" mixing with the pair transform (our
# option; the paper mixes in-batch) (paper Table 2 row): the R50 config with a
# ResNet-101 backbone (Detectron2's ImageNet-1k R-101, MSRA caffe style).
#
# The paper's numbers for the row (in-batch; val2017, best-AP checkpoint,
# AP / AP50 / AP75 / APs / APm / APl):
#   Table 2: 43.87 / 65.00 / 48.39 / 26.88 / 47.91 / 55.70
_base_ = './faster-rcnn_r50_fpn_union-pair_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        # Detectron2's ImageNet-1k R-101 (MSRA, caffe style)
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
