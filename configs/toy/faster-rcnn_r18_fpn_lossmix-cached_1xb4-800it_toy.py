# LossMix on the toy shapes with a partner cache: the toy LossMix config, but
# LossMixPair draws each partner from the last 10 samples its dataloader
# worker has seen (resized and flipped, as they left the loading steps)
# instead of loading a second image per sample.
#
# No MultiImageMixDataset: with a cache there is nothing for it to load, and
# it deep-copies every sample once per transform (a third of the data time
# of a toy step), so LossMixPair runs at the end of the dataset's own
# pipeline. The samples are those of the wrapped form, draw for draw (the
# wrapper draws no random numbers here; tested).
#
# cache_size=10, about 2.5 batches of 4 per worker: a partner then comes from
# the sample's own batch for 0, 1, 2 or 3 of 10 draws (0.15 on average), so
# the 8 image slots of a step still hold about 7 distinct images (a cache
# of 1 would chain each sample to the previous one); it is also the
# max_cached_images of mmdet's CachedMixUp in RTMDet-tiny ("10 caches for
# each image suffice"). The shuffled sampler makes the cached samples random
# images of the dataset; each cached view is a partner once on average
# (cached for 10 samples, drawn with probability 1/10 each), and no view is
# older than 10 samples. Memory: 10 images of 192 px per worker (~1 MB).
# The first sample of each worker is not mixed (empty cache).
_base_ = './faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py'
custom_imports = dict(imports=['lossmix_mm'], allow_failed_imports=False)

train_pipeline = _base_.inner_pipeline + [
    dict(type='LossMixPair', mode='lossmix', alpha=1.0, cache_size=10),
    dict(type='PackLossMixInputs')
]
# the loading config's inner dataset, this pipeline instead of its own
train_dataloader = dict(
    dataset=dict(
        _base_.train_dataloader.dataset.dataset,
        _delete_=True,
        pipeline=train_pipeline))
