# "Union" mixing on Faster R-CNN R50-FPN, COCO (paper Table 2): the same image
# mixing as LossMix (lam ~ Beta(1, 1)) but the gts of both images are kept with
# weight 1. All weights are 1, so the stock heads of the baseline already
# compute this loss.
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 41.43 / 62.75 / 45.68 / 25.59 / 45.19 / 52.61
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
            dict(type='LossMixPair', mode='union', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
