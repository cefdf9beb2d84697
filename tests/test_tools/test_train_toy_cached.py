"""The toy LossMix config with a partner cache (LossMixPair cache_size=10):
it is the toy pair config with cache_size set and LossMixPair moved from
MultiImageMixDataset into the dataset's own pipeline (the same samples, draw
for draw), builds, loads one image per sample where the pair config loads
two, and trains through tools/train.py."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS, HOOKS
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope

from lossmix_mm.engine.hooks.mixing_schedule_hook import find_pair_transforms
from lossmix_test_utils import (flatten_leaves, inheritance_depth, load,
                                toy_config, toy_options)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import train as train_tool  # noqa: E402

CACHED = toy_config('lossmix-cached')
LOADING = toy_config('lossmix')
SEEN = {}


@pytest.fixture
def count_train_loads(monkeypatch):
    """How many times a training CocoDataset produced a sample."""
    counts = {'loads': 0}
    getitem = CocoDataset.__getitem__

    def counting(self, idx):
        if not self.test_mode:
            counts['loads'] += 1
        return getitem(self, idx)

    monkeypatch.setattr(CocoDataset, '__getitem__', counting)
    return counts


def test_cached_config_is_the_pair_config_with_a_cache():
    """The loading pair config's inner dataset, whose pipeline ends with
    the wrapper's LossMixPair (cache_size=10) and packer; nothing else
    differs."""
    assert osp.basename(CACHED) == \
        'faster-rcnn_r18_fpn_lossmix-cached_1xb4-800it_toy.py'
    assert inheritance_depth(CACHED) <= 3
    cfg = load(CACHED)
    assert cfg.custom_imports == dict(
        imports=['lossmix_mm'], allow_failed_imports=False)
    loading = load(LOADING)
    wrapper = loading.train_dataloader.dataset
    assert wrapper.type == 'MultiImageMixDataset'
    expected = dict(
        wrapper.dataset.to_dict(),
        pipeline=wrapper.dataset.pipeline + wrapper.pipeline)
    expected['pipeline'][-2]['cache_size'] = 10
    assert cfg.train_dataloader.dataset.to_dict() == expected
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    ours = flatten_leaves(cfg.to_dict())
    theirs = flatten_leaves(loading.to_dict())
    changed = {
        k.split('.')[0] if k.startswith('train_') else k
        for k in ours.keys() | theirs.keys()
        if ours.get(k, '<missing>') != theirs.get(k, '<missing>')
    }
    assert changed == {'train_pipeline', 'train_dataloader'}
    assert {
        k
        for k in ours
        if k.startswith('train_dataloader.') and ours[k] != theirs.get(k)
    } <= {k
          for k in ours if k.startswith('train_dataloader.dataset.')}


def test_cached_config_gives_the_wrapped_samples(toy_root):
    """The plain pipeline and the same transforms in MultiImageMixDataset
    give the same samples, draw for draw (pixels, boxes, weights, lam)."""
    init_default_scope('mmdet')
    plain = load(CACHED).train_dataloader.dataset
    plain.data_root = toy_root + '/'
    wrapped = load(LOADING).train_dataloader.dataset
    wrapped.dataset.data_root = toy_root + '/'
    wrapped.pipeline[0].cache_size = 10
    samples = {}
    for name, cfg in (('plain', plain), ('wrapped', wrapped)):
        dataset = DATASETS.build(cfg)
        np.random.seed(0)
        samples[name] = [dataset[i] for i in (3, 1, 4, 1, 5, 0, 2)]
    lams = []
    for a, b in zip(samples['plain'], samples['wrapped']):
        assert torch.equal(a['inputs'], b['inputs'])
        gts_a = a['data_samples'].gt_instances
        gts_b = b['data_samples'].gt_instances
        assert torch.equal(gts_a.bboxes.tensor, gts_b.bboxes.tensor)
        assert torch.equal(gts_a.loss_weights, gts_b.loss_weights)
        assert torch.equal(gts_a.mix_group, gts_b.mix_group)
        lams.append(a['data_samples'].metainfo['mix_lambda'])
        assert lams[-1] == b['data_samples'].metainfo['mix_lambda']
    assert lams[0] == 1.0 and all(0 < lam < 1 for lam in lams[1:])


@pytest.mark.parametrize(
    'config,loads_per_sample', [(CACHED, 1), (LOADING, 2)],
    ids=['cached', 'loading'])
def test_cached_config_loads_one_image_per_sample(config, loads_per_sample,
                                                  toy_root, count_train_loads):
    init_default_scope('mmdet')
    cfg = load(config)
    data_cfg = cfg.train_dataloader.dataset
    data_cfg.get('dataset', data_cfg).data_root = toy_root + '/'
    dataset = DATASETS.build(data_cfg)
    np.random.seed(0)
    samples = [dataset[i] for i in (0, 1, 2, 3, 4, 5)]
    assert count_train_loads['loads'] == 6 * loads_per_sample
    lams = [s['data_samples'].metainfo['mix_lambda'] for s in samples]
    for sample in samples:
        gts = sample['data_samples'].gt_instances
        weights = gts.loss_weights
        assert len(weights) == len(gts) >= 1
        assert bool(((weights > 0) & (weights <= 1)).all())
    if loads_per_sample == 1:
        # the first sample has an empty cache; every later one a partner
        assert lams[0] == 1.0 and all(0 < lam < 1 for lam in lams[1:])
        groups = samples[1]['data_samples'].gt_instances.mix_group
        assert set(groups.tolist()) == {0, 1}
        pair, = find_pair_transforms(dataset)
        assert len(pair.results_cache) == 6


@HOOKS.register_module(force=True)
class RecordCacheHook(Hook):
    """Test hook: the mixing coefficients of the trained batches and the
    cache of the train pipeline's LossMixPair (loader without workers)."""

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        SEEN.setdefault('lams', []).extend(s.metainfo['mix_lambda']
                                           for s in data_batch['data_samples'])
        SEEN.setdefault('losses', []).append({
            k: float(v.detach())
            for k, v in outputs.items()
        })

    def after_train(self, runner):
        pair, = find_pair_transforms(runner.train_dataloader.dataset)
        SEEN['cache_size'] = pair.cache_size
        SEEN['cached'] = len(pair.results_cache)


@pytest.mark.slow
def test_cached_config_trains(toy_root, tmp_path, cfg_edits,
                              count_train_loads):
    cfg_edits.append(lambda cfg: setattr(cfg, 'custom_hooks',
                                         [dict(type='RecordCacheHook')]))
    SEEN.clear()
    work_dir = str(tmp_path / 'work')
    train_tool.main(
        [CACHED, '--work-dir', work_dir, '--cfg-options'] +
        toy_options(toy_root, max_iters=3, interval=3, nested=False) +
        ['visualizer.name=vis_toy_lossmix_cached'])
    # 3 iterations of batch 2: 6 samples, 6 loads (the pair config: 12)
    assert count_train_loads['loads'] == 6
    assert (SEEN['cache_size'], SEEN['cached']) == (10, 6)
    lams = SEEN['lams']
    assert len(lams) == 6 and lams[0] == 1.0
    assert sum(lam < 1.0 for lam in lams) >= 4
    for losses in SEEN['losses']:
        assert all(np.isfinite(v) for v in losses.values())
        assert losses['loss_rpn_cls'] > 0 and losses['loss_cls'] > 0
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
