# "Noise" mixing on Faster R-CNN R50-FPN, PASCAL VOC 07+12 (paper Table 1):
# in-batch mixing as the paper does it (one loader, each GPU's batch of 8
# mixed with a shuffled copy of itself, `BatchLossMix`), but only a small
# amount of the partner is blended in (its coefficient ~ U(0, 0.2)) and only
# the dominant image's gts are kept, with weight 1 -- mixing as a colour
# augmentation. With all weights 1 the LossMix heads compute the stock
# losses; they are used so that every paper row runs the same model code.
# Ours, not the paper's: as in the LossMix config (partner order, mean-pixel
# canvas). The pair-transform sibling is `..._noise-pair_...`.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 54.36 / 80.46 / 59.92
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='noise', noise_range=(0.0, 0.2))
    ]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
