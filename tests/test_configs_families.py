"""The LossMix configs of detector families other than Faster R-CNN
(``configs/lossmix/{cascade-rcnn,mask-rcnn,retinanet,fcos,rtmdet,dino}*``).

Each inherits mmdet's stock COCO config and changes only the head types (to
their LossMix subclasses), the batch augment (``BatchLossMix``) and, for
RTMDet, the pipeline (its CachedMixUp removed). For every config: the name
follows the rule, the difference to the stock config is exactly that, the
model builds, the datasets build on a tiny COCO fixture (masks included) and
samples go through the pipeline and the data preprocessor; for the LossMix
variant of each family one training step runs end to end.
"""
import copy
import glob
import json
import os.path as osp
import re

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import OptimWrapper

import lossmix_mm  # noqa: F401
from lossmix_test_utils import (IMG_H, IMG_W, flatten_leaves,
                                inheritance_depth, set_data_root, write_image)

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'lossmix')

# family prefix -> (stock mmdet config, {head path: LossMix type})
FAMILIES = {
    'cascade-rcnn_r50_fpn':
    ('cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
     dict(rpn_head='LossMixRPNHead', roi_head='LossMixCascadeRoIHead')),
    'mask-rcnn_r50_fpn':
    ('mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
     dict(rpn_head='LossMixRPNHead', roi_head='LossMixRoIHead')),
    'retinanet_r50_fpn': ('retinanet/retinanet_r50_fpn_1x_coco.py',
                          dict(bbox_head='LossMixRetinaHead')),
    'fcos_r50-caffe_fpn_gn-head':
    ('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
     dict(bbox_head='LossMixFCOSHead')),
    'rtmdet_s': ('rtmdet/rtmdet_s_8xb32-300e_coco.py',
                 dict(bbox_head='LossMixRTMDetSepBNHead')),
    'rtmdet_l': ('rtmdet/rtmdet_l_8xb32-300e_coco.py',
                 dict(bbox_head='LossMixRTMDetSepBNHead')),
    'dino-4scale_r50': ('dino/dino-4scale_r50_8xb2-12e_coco.py',
                        dict(bbox_head='LossMixDINOHead')),
}
NAME_RE = re.compile(r'^(?P<family>' + '|'.join(map(re.escape, FAMILIES)) +
                     r')_(?:(?P<variant>lossmix|union)_)?'
                     r'(?P<sched>1x|8xb32-300e|8xb2-12e)_coco\.py$')
# the region-mixing siblings (-mosaic_, -cutmix_): tests/test_configs_region.py
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))
    if not osp.basename(p).startswith('faster-rcnn')
    and not re.search(r'-(mosaic|cutmix)_', osp.basename(p)))
IDS = [osp.basename(p)[:-3] for p in CONFIGS]


def parse(path):
    match = NAME_RE.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming rule'
    return match.groupdict()


_CACHE = {}


def load(path):
    if path not in _CACHE:
        _CACHE[path] = Config.fromfile(path)
    return copy.deepcopy(_CACHE[path])


def stock(family):
    return load(osp.join(MMDET_CONFIGS, FAMILIES[family][0]))


MMDET_CONFIGS = osp.join(
    osp.dirname(__import__('mmdet').__file__), '.mim', 'configs')


def test_every_family_has_three_rows():
    found = {(parse(p)['family'], parse(p)['variant']) for p in CONFIGS}
    assert found == {(f, v)
                     for f in FAMILIES
                     for v in (None, 'lossmix', 'union')}


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_changes_only_heads_and_mixing(path):
    name = parse(path)
    cfg, ref = load(path), stock(name['family'])
    assert inheritance_depth(path) <= 3
    assert cfg.custom_imports == dict(
        imports=['lossmix_mm'], allow_failed_imports=False)
    heads = FAMILIES[name['family']][1]
    for key, head_type in heads.items():
        assert cfg.model[key].type == head_type
    augments = cfg.model.data_preprocessor.get('batch_augments')
    if name['variant'] is None:
        assert not augments
    else:
        assert augments == [
            dict(type='BatchLossMix', mode=name['variant'], alpha=1.0)
        ]
    # the model differs from the stock one in the head types and the batch
    # augment only
    ours = flatten_leaves(cfg.model.to_dict())
    theirs = flatten_leaves(ref.model.to_dict())
    changed = {
        k
        for k in set(ours) | set(theirs)
        if ours.get(k) != theirs.get(k) and not k.endswith('_scope_')
    }
    allowed = {f'{key}.type' for key in heads}
    assert {k for k in changed
            if not k.startswith('data_preprocessor.batch_augments')} == \
        allowed
    # schedule, optimiser and hooks are the stock ones, plus the default
    # hook that makes a resumed run continue exactly
    assert cfg.default_hooks.random_state == dict(type='RandomStateHook')
    for key in ('train_cfg', 'optim_wrapper', 'param_scheduler',
                'custom_hooks', 'default_hooks', 'val_evaluator'):
        assert {k: v for k, v in flatten_leaves(cfg.get(key)).items()
                if not k.endswith('_scope_')
                and not k.startswith('random_state.')} == \
            {k: v for k, v in flatten_leaves(ref.get(key)).items()
             if not k.endswith('_scope_')}, key
    # the pipeline: the stock one, without CachedMixUp for RTMDet
    pipeline = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    stock_pipeline = [t.type for t in ref.train_dataloader.dataset.pipeline]
    if name['family'].startswith('rtmdet'):
        assert 'CachedMixUp' in stock_pipeline
        stock_pipeline.remove('CachedMixUp')
    assert pipeline == stock_pipeline


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    """COCO layout, train2017 / val2017 with 2 images of 2 boxes each, with
    polygon masks (the boxes' inscribed diamonds)."""
    root = tmp_path_factory.mktemp('coco_fam')
    (root / 'annotations').mkdir()
    categories = [dict(id=1, name='person'), dict(id=18, name='dog')]
    ann_id = 1
    for split in ('train2017', 'val2017'):
        (root / split).mkdir()
        images, annotations = [], []
        for i in range(2):
            img_id = i + 1
            file_name = f'{split}_{i:06d}.jpg'
            write_image(str(root / split / file_name), 200 + img_id)
            images.append(
                dict(
                    id=img_id, file_name=file_name, width=IMG_W, height=IMG_H))
            for cat, (x, y, w, h) in ((1, (5, 6, 35, 24)), (18, (30, 10, 30,
                                                                 34))):
                diamond = [
                    x + w / 2, y, x + w, y + h / 2, x + w / 2, y + h, x,
                    y + h / 2
                ]
                annotations.append(
                    dict(
                        id=ann_id,
                        image_id=img_id,
                        category_id=cat,
                        bbox=[x, y, w, h],
                        area=w * h / 2,
                        iscrowd=0,
                        segmentation=[diamond]))
                ann_id += 1
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=categories)))
    return str(root) + '/'


def _samples(cfg, n=2):
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return [dataset[i % len(dataset)] for i in range(n)]


def _data(samples):
    return dict(
        inputs=[s['inputs'] for s in samples],
        data_samples=[s['data_samples'] for s in samples])


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_builds_model_and_data(path, coco_root):
    cfg = set_data_root(load(path), coco_root)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    for key in FAMILIES[parse(path)['family']][1]:
        assert type(getattr(model, key)).__name__ == cfg.model[key].type
    for split in ('val_dataloader', 'test_dataloader'):
        DATASETS.build(cfg[split].dataset)
    data = model.data_preprocessor(_data(_samples(cfg)), True)
    samples = data['data_samples']
    variant = parse(path)['variant']
    has_weights = all('loss_weights' in s.gt_instances for s in samples)
    assert has_weights == (variant is not None)
    if variant == 'lossmix':
        weights = torch.cat([s.gt_instances.loss_weights for s in samples])
        assert ((weights > 0) & (weights <= 1)).all()
    if 'mask' in path:
        for s in samples:
            assert len(s.gt_instances.masks) == len(s.gt_instances)
            assert s.gt_instances.masks.height == s.img_shape[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if parse(p)['variant'] == 'lossmix'],
    ids=[i for i, p in zip(IDS, CONFIGS) if parse(p)['variant'] == 'lossmix'])
def test_lossmix_config_trains_one_step(path, coco_root):
    """One training step of the whole detector (R50 / RTMDet at the
    fixture's size) with mixed samples: finite losses, every head loss
    present."""
    cfg = set_data_root(load(path), coco_root)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    # as the runner does: without it DINO's uninitialised heads give focal
    # losses of thousands and NaN matching costs on some inputs, stock head
    # or not (the backbone's init_cfg is None: nothing is downloaded)
    model.init_weights()
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    losses = model.train_step(_data(_samples(cfg)), optim)
    assert torch.isfinite(losses['loss'])
    assert losses['loss'] < 1000  # sane magnitudes with trained BN
    assert len(losses) > 2
