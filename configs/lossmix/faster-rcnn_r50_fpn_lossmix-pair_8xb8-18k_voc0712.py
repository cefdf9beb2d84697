# LossMix on Faster R-CNN R50-FPN, PASCAL VOC 07+12, with the pair transform
# (an option of ours; the paper's own implementation, in-batch mixing, is
# `faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py`): every training image is
# mixed with a partner drawn from the whole dataset (`LossMixPair` in a
# `MultiImageMixDataset`: a second image is loaded, resized and flipped per
# sample), before normalisation, so the canvas outside both images is black,
# as the paper's zero padding. The paper's setting otherwise: lam ~ Beta(1, 1),
# centre-aligned, the gts of both images kept with loss weights lam and
# 1 - lam, the RPN and RoI heads scaling the positive samples' cls and reg
# targets by them (Eq. 14).
#
# The paper's numbers for the row (in-batch; VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.87 / 82.44 / 62.88
#   Table 3 (best-AP checkpoint):   56.60 / 82.17 / 63.59
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead (plus mix_cls=True, mix_reg=True, exact=False): only the
# type changes, the rest of the head is merged on purpose.
model = dict(
    rpn_head=dict(type='LossMixRPNHead'), roi_head=dict(type='LossMixRoIHead'))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # VOC 07+12: load, train on difficult boxes, resize, flip
        dataset=_base_.mix_inner_dataset,
        pipeline=[
            dict(type='LossMixPair', mode='lossmix', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
