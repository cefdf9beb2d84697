# Union mixing on the toy shapes with Mask R-CNN (the paper's baseline): the
# same image mixing as LossMix, but every box and mask of both images weighs 1.
_base_ = './mask-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'

train_pipeline = [
    dict(type='LossMixPair', mode='union', alpha=1.0),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
