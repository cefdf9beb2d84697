# Region-based LossMix on Faster R-CNN R50-FPN, PASCAL VOC 07+12, with CutMix:
# every training image gets a rectangle of a partner pasted on it
# (LossMixCutMix in a MultiImageMixDataset; the patch covers r ~ Beta(1, 1) of
# the image, as CutMix), and every box weighs w = c * v (issue 18): c = 1 (a
# pasted region is not a blend), v the share of its annotated area still
# visible: an own box's area outside the patch, a partner box's area inside
# it. The Union sibling (`..._union-cutmix_...`: the same pixels, every
# overlapping box weight 1) differs only in the transform's mode and the
# packer. The paper names region mixing as a LossMix use (Sec. 3.3) without a
# recipe; its setting otherwise (the parent's model, schedule, Detectron2
# defaults, multi-scale resize and flip of both images before the paste).
_base_ = './faster-rcnn_r50_fpn_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

# LossMixRPNHead / LossMixRoIHead take every argument of RPNHead /
# StandardRoIHead: only the type changes, the rest is merged on purpose.
# A box below min_visible is packed as an ignored instance: ignore_iof_thr
# 0.5 makes an anchor or proposal lying mostly (IoF > 0.5) inside one neither
# object nor background (MaxIoUAssigner sets its overlaps to -1), as a box
# mostly covered by the patch must be; mmdet's -1 would train it as
# background. (Inert while min_visible is 0, and where nothing is ignored:
# VOC "difficult" boxes are trained on, see ClearIgnoreFlags.)
model = dict(
    rpn_head=dict(type='LossMixRPNHead'),
    roi_head=dict(type='LossMixRoIHead'),
    train_cfg=dict(
        rpn=dict(assigner=dict(ignore_iof_thr=0.5)),
        rcnn=dict(assigner=dict(ignore_iof_thr=0.5))))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        # VOC 07+12: load, train on difficult boxes, resize, flip
        dataset=_base_.mix_inner_dataset,
        pipeline=[
            dict(type='LossMixCutMix', alpha=1.0, prob=1.0, mode='lossmix'),
            # w = c * v; the thresholds are the study's to choose (docs,
            # issue 18 item 6): 0 / 0 keeps every box that shows a pixel
            dict(
                type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
        ]))
