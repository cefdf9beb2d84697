# "Union" mixing on Faster R-CNN R50-FPN, PASCAL VOC 07+12, with the pair
# transform (an option of ours; the paper mixes in-batch:
# `faster-rcnn_r50_fpn_union_8xb8-18k_voc0712.py`): every training image is
# mixed with a partner drawn from the whole dataset (`LossMixPair` in a
# `MultiImageMixDataset`), lam ~ Beta(1, 1), centre-aligned, zero padded, the
# gts of both images kept with weight 1. All weights are 1, so the stock
# RPNHead / StandardRoIHead of the baseline compute this loss.
#
# The paper's numbers for the row (in-batch; VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.05 / 82.02 / 61.72
#   Table 3 (best-AP checkpoint):   55.28 / 81.97 / 61.78
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # VOC 07+12: load, train on difficult boxes, resize, flip
        dataset=_base_.mix_inner_dataset,
        pipeline=[
            dict(type='LossMixPair', mode='union', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
