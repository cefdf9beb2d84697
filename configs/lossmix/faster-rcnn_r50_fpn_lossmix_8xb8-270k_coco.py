# LossMix on Faster R-CNN R50-FPN, COCO (paper Table 2): every training image
# is mixed with a random partner, lam ~ Beta(1, 1); the gts of both images are
# kept with loss weights lam and 1 - lam, and the RPN and RoI heads scale the
# positive samples' cls and reg targets by them (Eq. 14).
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 41.82 / 62.51 / 45.81 / 25.04 / 45.48 / 54.03
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead (plus mix_cls=True, mix_reg=True): only the type changes.
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
