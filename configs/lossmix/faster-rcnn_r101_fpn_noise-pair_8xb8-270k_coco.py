# Faster R-CNN R101-FPN on COCO, "Noise" mixing with the pair transform (our
# option; the paper mixes in-batch) (paper Table 2 row): the R50 config with a
# ResNet-101 backbone (Detectron2's ImageNet-1k R-101, MSRA caffe style).
#
# The paper's numbers for the row (in-batch; val2017, best-AP checkpoint,
# AP / AP50 / AP75 / APs / APm / APl):
#   Table 2: 42.60 / 62.85 / 46.58 / 25.83 / 46.62 / 55.16
_base_ = './faster-rcnn_r50_fpn_noise-pair_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=101,
        # Detectron2's ImageNet-1k R-101 (MSRA, caffe style)
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
