# CutMix with region-based LossMix on the toy shapes: a patch of the partner
# (area share r ~ Beta(1, 1)) pasted over the own image; a pasted region's
# coefficient is 1, so each box weighs its visible share v: own boxes what
# the patch leaves of them, the partner's what the patch shows.
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'

train_pipeline = [
    dict(type='LossMixCutMix', alpha=1.0, mode='lossmix'),
    # thresholds on v: 0 / 0, chosen by docs/region_mixing_toy.md
    dict(type='PackLossMixInputs', min_visible=0.0, reg_min_visible=0.0)
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
