# LossMix on Faster R-CNN R50-FPN, COCO (paper Table 2), with in-batch mixing
# as the paper (supp. A): a single data loader, each minibatch (each GPU's 8
# images) mixed with a randomly shuffled version of itself in the data
# preprocessor (`BatchLossMix`), lam ~ Beta(1, 1); the gts of both images are
# kept with loss weights lam and 1 - lam, and the RPN and RoI heads scale the
# positive samples' cls and reg targets by them (Eq. 14).
# Ours, not the paper's: the partner order (BatchLossMix's default, every
# image gets another image of its batch); mixing after normalisation (the
# canvas outside both images is the mean pixel). The pair-transform sibling
# is `..._lossmix-pair_8xb8-270k_coco.py`.
#
# The paper's numbers (val2017, best-AP checkpoint, AP / AP50 / AP75 / APs /
# APm / APl):
#   Table 2: 41.82 / 62.51 / 45.81 / 25.04 / 45.48 / 54.03
_base_ = './faster-rcnn_r50_fpn_8xb8-270k_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead (plus mix_cls=True, mix_reg=True, exact=False): only the
# type changes, the rest of the head is merged on purpose.
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=1.0)]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
