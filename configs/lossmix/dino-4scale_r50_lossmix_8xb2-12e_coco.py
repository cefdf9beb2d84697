# LossMix on DINO-4scale R50, COCO, with the paper's in-batch mixing (supp. A):
# each minibatch mixed with a derangement of itself in the data preprocessor
# (BatchLossMix), lam ~ Beta(1, 1); the gts of both images are kept with loss
# weights lam and 1 - lam, and a matched query takes its gt's weight in every
# decoder layer, the encoder proposals the weight of the gt they are matched
# to, the denoising queries that of the gt they were made from (Eq. 14). Not in
# the paper (which trains Faster R-CNN only): this detector; its schedule,
# pipeline and optimiser are mmdet's stock ones.
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)
# loads checkpoints with weights_only=True; runs the Union guard
runner_type = 'mmdet.LossMixRunner'

# the LossMix heads take every argument of the stock ones: only the type
# changes, the rest of the head is merged on purpose
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchLossMix', mode='lossmix', alpha=1.0)]),
    bbox_head=dict(type='LossMixDINOHead'))

# a resumed run draws the uninterrupted run's random numbers (default
# hooks merge with mmdet's)
default_hooks = dict(random_state=dict(type='RandomStateHook'))
