"""The toy RTMDet configs of the region benchmark: they parse, build, differ
only in the mixing transforms, the box type and the packer, give the same
images for the same random state, and train a step on the CPU."""
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import benchmark  # tools/ is on pytest's pythonpath

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'lossmix': 'toy/rtmdet_tiny_lossmix-mosaic_1xb4-800it_toy.py',
    'union': 'toy/rtmdet_tiny_union-mosaic_1xb4-800it_toy.py',
}
# the mixing transforms, box type and packer: mmdet's -> LossMix's
SWAPPED = {
    'CachedMosaic': 'LossMixCachedMosaic',
    'CachedMixUp': 'LossMixCachedMixUp',
    'PackDetInputs': 'PackLossMixInputs',
}


def _cfg(key):
    return Config.fromfile(osp.join(ROOT, 'configs', CONFIGS[key]))


@pytest.mark.parametrize('key', sorted(CONFIGS))
def test_config_parses(key):
    cfg = _cfg(key)
    assert cfg.runner_type == 'mmdet.LossMixRunner'
    assert cfg.custom_imports.imports == ['lossmix_mm']
    assert cfg.model.type == 'RTMDet'
    assert cfg.model.backbone.init_cfg is None  # random init
    assert (cfg.model.backbone.deepen_factor,
            cfg.model.backbone.widen_factor) == (0.167, 0.25)
    for part in ('backbone', 'neck', 'bbox_head'):
        assert cfg.model[part].norm_cfg.type == 'BN'
    assert cfg.model.bbox_head.type == 'LossMixRTMDetSepBNHead'
    assert cfg.model.bbox_head.num_classes == 3
    assert cfg.img_scale == (192, 192)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 800
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.batch_sampler is None
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/train.json'
    assert [h.type for h in cfg.custom_hooks] == ['EMAHook']


def test_pipelines_differ_only_in_the_mixing():
    lossmix = _cfg('lossmix').train_dataloader.dataset.pipeline
    union = _cfg('union').train_dataloader.dataset.pipeline
    assert len(lossmix) == len(union) == 10
    for ours, stock in zip(lossmix, union):
        ours, stock = dict(ours), dict(stock)
        if stock['type'] in SWAPPED:
            assert ours.pop('type') == SWAPPED[stock.pop('type')]
            if stock == {}:  # the packers
                assert ours == dict(min_visible=0.0, reg_min_visible=0.0)
                continue
            assert ours.pop('mode') == 'lossmix'
            ours.pop('alpha', None)  # the MixUp's, checked below
        elif stock['type'] == 'LoadAnnotations':
            assert ours.pop('box_type') == 'lossmix_hbox'
        assert ours == stock
    mixup = [s for s in lossmix if s['type'] == 'LossMixCachedMixUp'][0]
    assert mixup['alpha'] is None and mixup['mode'] == 'lossmix'


def _datasets(toy_root):
    init_default_scope('mmdet')
    return {
        key:
        DATASETS.build(
            benchmark.load_cfg(config, toy_root).train_dataloader.dataset)
        for key, config in CONFIGS.items()
    }


def test_same_images_for_the_same_random_state(toy_root):
    """Seeded alike, LossMix's pipeline makes mmdet's images; only its
    boxes carry weights (clipped to their tiles: a subset of the counts)."""
    datasets = _datasets(toy_root)
    mixed = 0
    for i in range(12):
        out = {}
        for key, dataset in datasets.items():
            np.random.seed(i)
            random.seed(i)
            out[key] = dataset[i % len(dataset)]
        assert torch.equal(out['lossmix']['inputs'], out['union']['inputs'])
        ours = out['lossmix']['data_samples'].gt_instances
        stock = out['union']['data_samples'].gt_instances
        assert 'loss_weights' in ours and 'loss_weights' not in stock
        assert len(ours) <= len(stock)
        assert ((ours.loss_weights > 0) & (ours.loss_weights <= 1)).all()
        mixed += int(out['lossmix']['data_samples'].get('mix_lambda', 0) > 0)
    assert mixed > 0  # the MixUp (prob 0.5) blended some of them


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(CONFIGS))
def test_builds_and_trains_a_step(toy_root, key):
    trainer = benchmark.Trainer(CONFIGS[key], toy_root)
    model = trainer.model
    assert type(model.bbox_head).__name__ == 'LossMixRTMDetSepBNHead'
    assert type(model.backbone.stem[0].bn).__name__ == 'BatchNorm2d'
    before = model.bbox_head.rtm_cls[0].weight.detach().clone()
    data_s, total_s = trainer.step()
    assert 0 <= data_s <= total_s
    assert not torch.equal(before, model.bbox_head.rtm_cls[0].weight)
    batch = next(trainer.data)
    assert tuple(batch['inputs'][0].shape) == (3, 192, 192)
    losses = model.loss(*model.data_preprocessor(batch, True).values())
    assert {'loss_cls', 'loss_bbox'} <= set(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
