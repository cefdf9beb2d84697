# LossMix on the toy shapes, exact Eq. 14: the pair-mixed data of the LossMix
# config; the RoI head samples once and scores the shared RoIs against each
# source image's boxes, the RPN assigns its anchors once per source image:
# lam * L(y_i) + (1 - lam) * L(y_j).
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(rpn_head=dict(exact=True), roi_head=dict(exact=True))
