# LossMix, exact Eq. 14 (an option of ours), Faster R-CNN R50-FPN, COCO 3x:
# the LossMix config's in-batch mixing; each head samples its anchors / RoIs
# once against both images' gts and scores the sample against each image's
# gts: lam * L(y_i) + (1 - lam) * L(y_j) (exact='two_pass': one assignment
# and sample per source image).
#
# The paper reports no number for this variant; LossMix (default), Table 2:
#   41.82 / 62.51 / 45.81 (val2017, bbox AP / AP50 / AP75)
_base_ = './faster-rcnn_r50_fpn_lossmix_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(rpn_head=dict(exact=True), roi_head=dict(exact=True))
