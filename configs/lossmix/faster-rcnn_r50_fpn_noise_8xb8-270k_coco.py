# "Noise" mixing on Faster R-CNN R50-FPN, COCO (paper Table 2): in-batch
# mixing as the paper does it (`BatchLossMix`), the partner blended in with a
# coefficient ~ U(0, 0.2), only the dominant image's gts kept, with weight 1.
# With all weights 1 the LossMix heads compute the stock losses; they are
# used so that every paper row runs the same model code.
# Ours, not the paper's: as in the LossMix config (partner order, mean-pixel
# canvas). The pair-transform sibling is `..._noise-pair_8xb8-270k_coco.py`.
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 41.01 / 61.74 / 44.98 / 25.20 / 44.71 / 52.34
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='noise', noise_range=(0.0, 0.2))
    ]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
