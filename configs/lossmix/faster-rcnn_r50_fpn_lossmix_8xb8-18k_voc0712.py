# LossMix on Faster R-CNN R50-FPN, PASCAL VOC 07+12 (paper Table 1 / Table 3
# "LossMix (default)"), with in-batch mixing as the paper (supp. A): "a single
# data loader. Each minibatch is then mixed with a randomly shuffled version of
# itself" -- here each GPU's batch of 8, in the data preprocessor
# (`BatchLossMix`), lam ~ Beta(1, 1); the gts of both images are kept with loss
# weights lam and 1 - lam, and the RPN and RoI heads scale the positive
# samples' cls and reg targets by them (L = lam * L(y_i) + (1 - lam) * L(y_j),
# Eq. 14).
# Ours, not the paper's: the partner order (BatchLossMix's default, every
# image gets another image of its batch); mixing after normalisation, so the
# canvas outside both images is the mean pixel (0 once normalised). Batches
# are grouped by aspect ratio (mmdet's AspectRatioBatchSampler, like
# Detectron2's default ASPECT_RATIO_GROUPING), so partners share orientation.
# The pair-transform sibling (`..._lossmix-pair_...`) loads a second image
# per sample instead. Parent of the Table 3 ablations
# (`..._lossmix-*_8xb8-18k_voc0712.py`).
#
# The paper's numbers (VOC07 test, AP / AP50 / AP75):
#   Table 1 (best-AP50 checkpoint): 55.87 / 82.44 / 62.88
#   Table 3 (best-AP checkpoint):   56.60 / 82.17 / 63.59
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead (plus mix_cls=True, mix_reg=True, exact=False): only the
# type changes, the rest of the head is merged on purpose.
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=1.0)]),
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'))
