# "Union" mixing on Faster R-CNN R50-FPN, PASCAL VOC 07+12 (paper Table 1 and
# Table 3 "Uniform Union"): the same in-batch image mixing as LossMix (one
# loader, each GPU's batch of 8 mixed with a shuffled copy of itself,
# lam ~ Beta(1, 1), `BatchLossMix`) but the gts of both images are kept with
# weight 1 -- the usual unweighted union of labels. With all weights 1 the
# LossMix heads compute the stock RPNHead / StandardRoIHead losses; they are
# used so that every paper row runs the same model code.
# Ours, not the paper's: as in the LossMix config (partner order, mean-pixel
# canvas). The pair-transform sibling is `..._union-pair_...`.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.05 / 82.02 / 61.72
#   Table 3 (best-AP checkpoint):   55.28 / 81.97 / 61.78
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='union', alpha=1.0)]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
