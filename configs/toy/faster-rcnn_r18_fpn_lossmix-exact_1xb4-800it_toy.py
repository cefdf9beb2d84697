# LossMix on the toy shapes, exact Eq. 14: the pair-mixed data of the LossMix
# config; the RPN and the RoI head each sample their anchors / RoIs once,
# against both images' boxes, and score the sample against each source
# image's boxes: lam * L(y_i) + (1 - lam) * L(y_j) (exact='two_pass' samples
# once per source image instead).
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(rpn_head=dict(exact=True), roi_head=dict(exact=True))
