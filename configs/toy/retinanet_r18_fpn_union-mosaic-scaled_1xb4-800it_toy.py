# Loss-scale control of the region-based LossMix toy RetinaNet: the Union
# sibling's images and boxes (every box that overlaps the image kept), every
# box at one constant weight 0.4, the mean packed weight c * v of the
# LossMix sibling (0.397 over 1000 samples of its pipeline, seed 0). It
# trains with LossMix's total positive weight but weighs no box by what it
# keeps: the control of docs/region_mixing_toy.md.
_base_ = './retinanet_r18_fpn_union-mosaic_1xb4-800it_toy.py'

train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='ScaleLossWeights', scale=0.4),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
