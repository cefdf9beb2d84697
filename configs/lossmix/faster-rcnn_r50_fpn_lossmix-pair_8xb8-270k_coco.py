# LossMix on Faster R-CNN R50-FPN, COCO, with the pair transform
# (an option of ours; the paper mixes in-batch:
# `faster-rcnn_r50_fpn_lossmix_8xb8-270k_coco.py`):
# every training image is mixed with a partner drawn from the whole dataset
# (`LossMixPair` in a `MultiImageMixDataset`: a second image is loaded,
# resized and flipped per sample), centre-aligned, zero padded.
# lam ~ Beta(1, 1), the gts of both images kept with loss weights lam and
# 1 - lam, scaling the positive samples' targets in the LossMix heads.
#
# The paper's numbers for the row (in-batch; val2017, best-AP checkpoint,
# AP / AP50 / AP75 / APs / APm / APl):
#   Table 2: 41.82 / 62.51 / 45.81 / 25.04 / 45.48 / 54.03
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    rpn_head=dict(type='LossMixRPNHead'), roi_head=dict(type='LossMixRoIHead'))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # COCO train2017: load, resize, flip (the baseline's, without packer)
        dataset=dict(
            _base_.train_dataloader.dataset,
            pipeline=_base_.mix_inner_pipeline),
        pipeline=[
            dict(type='LossMixPair', mode='lossmix', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
