# LossMix on the toy shapes with in-batch mixing (the paper's own
# implementation): the no-mix config's single loader, each batch of 4 mixed
# with a random derangement of itself in the data preprocessor (every image
# gets another image of the batch as partner)
# (lam ~ Beta(1, 1); outside both images the mean pixel).
_base_ = './faster-rcnn_r18_fpn_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchLossMix', mode='lossmix', alpha=1.0, partner='random')
    ]))
