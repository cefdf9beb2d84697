# LossMix ablation "ROI-only" (paper Table 3), R50-FPN, VOC 07+12: the RoI
# head's cls and reg losses are mixed, the RPN's are not (weight 1 for the gts
# of both images).
# The images are mixed as in the LossMix config (in-batch, as the paper);
# the flags of the LossMix heads pick the mixed losses.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.15 / 82.07 / 62.90
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(rpn_head=dict(mix_cls=False, mix_reg=False))
