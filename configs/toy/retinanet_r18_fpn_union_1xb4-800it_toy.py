# Union mixing on the toy shapes with RetinaNet (the paper's baseline): the
# same image mixing as LossMix, but every box of both images weighs 1.
_base_ = './retinanet_r18_fpn_lossmix_1xb4-800it_toy.py'

train_pipeline = [
    dict(type='LossMixPair', mode='union', alpha=1.0),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
