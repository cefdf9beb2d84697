# Noise mixing on the toy shapes (the paper's baseline after AFAN): the
# partner image blended in with a coefficient ~ U(0, 0.2), only the dominant
# image's boxes kept, all at weight 1.
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_pipeline = [
    dict(type='LossMixPair', mode='noise', noise_range=(0.0, 0.2)),
    dict(type='PackLossMixInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
