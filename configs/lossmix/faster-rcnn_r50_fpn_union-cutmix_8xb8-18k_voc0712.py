# Union CutMix on Faster R-CNN R50-FPN, PASCAL VOC 07+12: every training image
# gets a rectangle of a partner pasted on it (LossMixCutMix in union mode, in
# a MultiImageMixDataset; the patch covers r ~ Beta(1, 1) of the image), own
# boxes all kept, partner boxes clipped to the patch, every box weight 1. The
# Union sibling of `faster-rcnn_r50_fpn_lossmix-cutmix_8xb8-18k_voc0712.py`:
# the pair differs only in the transform's mode and the packer (the LossMix
# heads compute the stock losses without weights; ignore_iof_thr is kept
# equal and is inert here, where nothing is ignored). The paper's setting
# otherwise (the parent's model, schedule and Detectron2 defaults).
_base_ = './faster-rcnn_r50_fpn_lossmix-cutmix_8xb8-18k_voc0712.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the model, assigners and data of the LossMix sibling; only the transform's
# mode and the packer change (the whole pipeline list restated)
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LossMixCutMix', alpha=1.0, prob=1.0, mode='union'),
        dict(type='PackDetInputs')
    ]))
