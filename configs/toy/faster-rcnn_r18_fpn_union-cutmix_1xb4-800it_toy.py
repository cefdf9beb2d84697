# Union sibling of the CutMix toy config: the same patches, every own box
# kept whole at weight 1, the partner's boxes cut to the patch at weight 1.
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'

train_pipeline = [
    dict(type='LossMixCutMix', alpha=1.0, mode='union'),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
