# "Union" mixing on Faster R-CNN R50-FPN, PASCAL VOC 07+12 (paper Table 1 and
# Table 3 "Uniform Union"): the same image mixing as LossMix (lam ~ Beta(1, 1),
# centre-aligned, zero padded) but the gts of both images are kept with weight
# 1 -- the usual unweighted union of labels. All weights are 1, so the stock
# RPNHead / StandardRoIHead of the baseline already compute this loss.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.05 / 82.02 / 61.72
#   Table 3 (best-AP checkpoint):   55.28 / 81.97 / 61.78
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        dataset=_base_.mix_inner_dataset,  # VOC 07+12: load, resize, flip
        pipeline=[
            dict(type='LossMixPair', mode='union', alpha=1.0),
            dict(type='PackLossMixInputs')
        ]))
