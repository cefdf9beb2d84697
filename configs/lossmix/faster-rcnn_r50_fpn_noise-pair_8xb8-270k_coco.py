# "Noise" mixing on Faster R-CNN R50-FPN, COCO, with the pair transform
# (an option of ours; the paper mixes in-batch:
# `faster-rcnn_r50_fpn_noise_8xb8-270k_coco.py`):
# every training image is mixed with a partner drawn from the whole dataset
# (`LossMixPair` in a `MultiImageMixDataset`: a second image is loaded,
# resized and flipped per sample), centre-aligned, zero padded.
# The partner's coefficient ~ U(0, 0.2), only the dominant image's gts
# kept, with weight 1: the stock heads of the baseline compute this loss.
#
# The paper's numbers for the row (in-batch; val2017, best-AP checkpoint,
# AP / AP50 / AP75 / APs / APm / APl):
#   Table 2: 41.01 / 61.74 / 44.98 / 25.20 / 44.71 / 52.34
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # COCO train2017: load, resize, flip (the baseline's, without packer)
        dataset=dict(
            _base_.train_dataloader.dataset,
            pipeline=_base_.mix_inner_pipeline),
        pipeline=[
            dict(type='LossMixPair', mode='noise', noise_range=(0.0, 0.2)),
            dict(type='PackLossMixInputs')
        ]))
