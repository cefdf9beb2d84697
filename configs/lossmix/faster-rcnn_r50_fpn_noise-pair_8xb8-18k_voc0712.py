# "Noise" mixing on Faster R-CNN R50-FPN, PASCAL VOC 07+12, with the pair
# transform (an option of ours; the paper mixes in-batch:
# `faster-rcnn_r50_fpn_noise_8xb8-18k_voc0712.py`): a partner drawn from the
# whole dataset (`LossMixPair` in a `MultiImageMixDataset`) is blended in
# with a coefficient ~ U(0, 0.2) and only the dominant image's gts are kept,
# with weight 1. All weights are 1, so the stock RPNHead / StandardRoIHead of
# the baseline compute this loss.
#
# The paper's numbers for the row (in-batch; VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 54.36 / 80.46 / 59.92
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # VOC 07+12: load, train on difficult boxes, resize, flip
        dataset=_base_.mix_inner_dataset,
        pipeline=[
            dict(type='LossMixPair', mode='noise', noise_range=(0.0, 0.2)),
            dict(type='PackLossMixInputs')
        ]))
