# "Union" mixing on Faster R-CNN R50-FPN, COCO (paper Table 2): the same
# in-batch image mixing as LossMix (`BatchLossMix`, lam ~ Beta(1, 1)) but the
# gts of both images are kept with weight 1. With all weights 1 the LossMix
# heads compute the stock losses; they are used so that every paper row runs
# the same model code.
# Ours, not the paper's: as in the LossMix config (partner order, mean-pixel
# canvas). The pair-transform sibling is `..._union-pair_8xb8-270k_coco.py`.
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 41.43 / 62.75 / 45.68 / 25.59 / 45.19 / 52.61
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='union', alpha=1.0)]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
