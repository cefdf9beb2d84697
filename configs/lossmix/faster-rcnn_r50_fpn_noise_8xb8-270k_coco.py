# "Noise" mixing on Faster R-CNN R50-FPN, COCO (paper Table 2): a partner
# image is blended in with a coefficient ~ U(0, 0.2) and only the dominant
# image's gts are kept, with weight 1. All kept weights are 1, so the stock
# heads of the baseline already compute this loss.
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
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
