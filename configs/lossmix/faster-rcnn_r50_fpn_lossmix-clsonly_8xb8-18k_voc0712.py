# LossMix ablation "Classification-only" (paper Table 3), R50-FPN, VOC 07+12:
# only the classification losses are mixed (RPN and RoI); box regression keeps
# weight 1 for the gts of both images.
# The images are mixed as in the LossMix config (in-batch, as the paper);
# the flags of the LossMix heads pick the mixed losses.
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75, best-AP checkpoint):
#   Table 3: 56.55 / 82.71 / 63.38
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(rpn_head=dict(mix_reg=False), roi_head=dict(mix_reg=False))
