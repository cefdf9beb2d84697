"""The region-based LossMix configs (issue 18) and their Union siblings:
``configs/lossmix/{rtmdet_s,rtmdet_l,yolox_s,faster-rcnn_r50_fpn}_
{lossmix,union}-{mosaic,cutmix}_*.py``.

For every config: the style rules, the model builds, the train dataset
builds on a tiny COCO / VOC fixture (scales shrunk) and yields packed
samples through the whole pipeline, LossMix fields for the LossMix configs
(``w = c * v``), none for the Union ones; the stage-2 pipelines (RTMDet's
PipelineSwitchHook, YOLOX's mode switch) exist and pack. Each LossMix /
Union pair differs only in the mixing transforms, the box type and the
packer (mmdet 3.3's RandomAffine has no area filter to relax); the RTMDet /
YOLOX Union siblings are mmdet's stock configs with the LossMix head. The
LossMix configs train one step on CPU.
"""
import copy
import glob
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper

import lossmix_mm  # noqa: F401
from lossmix_test_utils import (IMG_H, IMG_W, flatten_dicts, flatten_leaves,
                                inheritance_depth, load, set_data_root,
                                write_image, write_voc_split)

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'lossmix')
MMDET_CONFIGS = osp.join(
    osp.dirname(__import__('mmdet').__file__), '.mim', 'configs')

# LossMix config -> (Union sibling, stock mmdet config, data set)
PAIRS = {
    'rtmdet_s_lossmix-mosaic_8xb32-300e_coco.py':
    ('rtmdet_s_union-mosaic_8xb32-300e_coco.py',
     'rtmdet/rtmdet_s_8xb32-300e_coco.py', 'coco'),
    'rtmdet_l_lossmix-mosaic_8xb32-300e_coco.py':
    ('rtmdet_l_union-mosaic_8xb32-300e_coco.py',
     'rtmdet/rtmdet_l_8xb32-300e_coco.py', 'coco'),
    'yolox_s_lossmix-mosaic_8xb8-300e_coco.py':
    ('yolox_s_union-mosaic_8xb8-300e_coco.py',
     'yolox/yolox_s_8xb8-300e_coco.py', 'coco'),
    'faster-rcnn_r50_fpn_lossmix-mosaic_8xb8-18k_voc0712.py':
    ('faster-rcnn_r50_fpn_union-mosaic_8xb8-18k_voc0712.py', None, 'voc'),
    'faster-rcnn_r50_fpn_lossmix-cutmix_8xb8-18k_voc0712.py':
    ('faster-rcnn_r50_fpn_union-cutmix_8xb8-18k_voc0712.py', None, 'voc'),
}
LOSSMIX = sorted(PAIRS)
CONFIGS = sorted(LOSSMIX + [v[0] for v in PAIRS.values()])
HEADS = dict(
    rtmdet=dict(bbox_head='LossMixRTMDetSepBNHead'),
    yolox=dict(bbox_head='LossMixYOLOXHead'),
    faster=dict(rpn_head='LossMixRPNHead', roi_head='LossMixRoIHead'))
# LossMix transform -> the mmdet transform it replaces in the Union sibling
# (LossMixCutMix has no mmdet counterpart: its Union sibling runs it in
# 'union' mode)
SWAPS = dict(
    LossMixCachedMosaic='CachedMosaic',
    LossMixCachedMixUp='CachedMixUp',
    LossMixMosaic='Mosaic',
    LossMixMixUp='MixUp',
    LossMixCutMix='LossMixCutMix',
    PackLossMixInputs='PackDetInputs')
MISSING = '<missing>'
# the scales are divided by this in the data tests (640 -> 64, ...)
SHRINK = 10
SCALE_KEYS = ('img_scale', 'scale', 'crop_size', 'size', 'border')


def path_of(name):
    return osp.join(CONFIG_DIR, name)


def family(name):
    return name.split('_')[0].split('-')[0]


def head_types(name):
    return HEADS[family(name)]


def shrink(node):
    """Divide every scale-like pair (``SCALE_KEYS``) inside ``node`` by
    ``SHRINK``, in place, so that the pipelines run on tiny images."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SCALE_KEYS and isinstance(value, (tuple, list)) and \
                    all(isinstance(v, int) for v in value):
                node[key] = type(value)(v // SHRINK for v in value)
            else:
                shrink(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            shrink(value)
    return node


def small(name, roots):
    """The config, shrunk and pointed at the fixture of its data set."""
    cfg = load(path_of(name))
    shrink(cfg.train_dataloader)
    shrink(cfg.get('custom_hooks', []))
    data = PAIRS[name][2] if name in PAIRS else \
        next(v[2] for v in PAIRS.values() if v[0] == name)
    set_data_root(cfg, roots[data])
    cfg.model.backbone.init_cfg = None
    return cfg


def config_diff(a, b):
    """{flattened key: (value in a, value in b)} where they differ, scope
    keys aside; ``MISSING`` for a key one side lacks."""
    left, right = flatten_leaves(a), flatten_leaves(b)
    return {
        k: (left.get(k, MISSING), right.get(k, MISSING))
        for k in set(left) | set(right)
        if left.get(k, MISSING) != right.get(k, MISSING)
        and not k.endswith('_scope_')
    }


# ---------------------------------------------------------------- style


def test_every_region_config_is_here():
    found = {
        osp.basename(p)
        for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))
        if '-mosaic_' in p or '-cutmix_' in p
    }
    assert found == set(CONFIGS)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_style(name):
    path = path_of(name)
    assert inheritance_depth(path) <= 3
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert text.startswith('#'), 'a config starts with a comment header'
    assert 'custom_imports = dict(' in text
    cfg = load(path)
    assert cfg.custom_imports == dict(
        imports=['lossmix_mm'], allow_failed_imports=False)
    assert cfg.runner_type == 'mmdet.LossMixRunner'
    for key, head in head_types(name).items():
        assert cfg.model[key].type == head
    sibling = PAIRS[name][0] if name in PAIRS else None
    if sibling:  # the header names the Union sibling
        variant = 'union-cutmix' if 'cutmix' in name else 'union-mosaic'
        assert f'_{variant}_' in text.split('_base_')[0]


# --------------------------------------------------------------- pairs


def expected_swaps(diff):
    """Check every difference of a LossMix config (left) to its Union
    sibling (right) is one of the allowed ones; return the kinds found."""
    kinds = set()
    for key, (ours, theirs) in diff.items():
        leaf = key.split('.')[-1]
        if leaf == 'type':
            assert SWAPS.get(ours) == theirs, (key, ours, theirs)
            kinds.add('transform')
        elif leaf == 'mode':
            assert ours == 'lossmix' and theirs in (MISSING, 'union'), key
            kinds.add('mode')
        elif leaf == 'alpha':  # mmdet's 0.5 blend, as the Union MixUp's
            assert (ours, theirs) == (None, MISSING), key
        elif leaf == 'box_type':
            assert (ours, theirs) == ('lossmix_hbox', MISSING), key
            kinds.add('box_type')
        elif leaf in ('min_visible', 'reg_min_visible'):
            assert (ours, theirs) == (0.0, MISSING), key
            kinds.add('packer')
        else:  # YOLOX's mode switch names the LossMix transforms
            assert '.skip_type_keys.' in key, (key, ours, theirs)
            assert ours in ('LossMixMosaic', 'RandomAffine',
                            'LossMixMixUp') and theirs == MISSING, key
            kinds.add('skip')
    return kinds


@pytest.mark.parametrize('name', LOSSMIX)
def test_pair_differs_only_in_mixing(name):
    sibling = PAIRS[name][0]
    diff = config_diff(
        load(path_of(name)).to_dict(),
        load(path_of(sibling)).to_dict())
    kinds = expected_swaps(diff)
    want = {'transform', 'packer', 'mode'}
    if 'cutmix' not in name:  # cutmix: plain boxes, converted by the mode
        want.add('box_type')
    if family(name) == 'yolox':
        want.add('skip')
    assert kinds == want
    # no mmdet mixing transform or plain packer is left in training, stage
    # 2 included
    cfg = load(path_of(name)).to_dict()
    types = {
        node.get('type')
        for key in ('train_dataloader', 'custom_hooks')
        for _, node in flatten_dicts(cfg.get(key, []))
    }
    assert not (set(SWAPS.values()) - {'LossMixCutMix'}) & types


# the toy region study's pairs (docs/region_mixing_toy.md): LossMix config
# -> its Union sibling, both in configs/toy/
TOY_PAIRS = {
    f'{det}_r18_fpn_lossmix-{mix}_1xb4-800it_toy.py':
    f'{det}_r18_fpn_union-{mix}_1xb4-800it_toy.py'
    for det, mix in (('faster-rcnn', 'mosaic'), ('faster-rcnn', 'cutmix'),
                     ('retinanet', 'mosaic'))
}


def toy_path(name):
    return osp.join(REPO, 'configs', 'toy', name)


@pytest.mark.parametrize('name', sorted(TOY_PAIRS))
def test_toy_pair_differs_only_in_weights(name):
    """A toy Union sibling runs the same LossMix transforms in 'union' mode
    on plain boxes with the packer's default thresholds: nothing else."""
    diff = config_diff(
        load(toy_path(name)).to_dict(),
        load(toy_path(TOY_PAIRS[name])).to_dict())
    kinds = set()
    for key, (ours, theirs) in diff.items():
        leaf = key.split('.')[-1]
        kinds.add(leaf)
        if leaf == 'mode':
            assert ours in (MISSING, 'lossmix') and theirs == 'union', key
        elif leaf == 'box_type':
            assert (ours, theirs) == ('lossmix_hbox', MISSING), key
        else:
            assert leaf in ('min_visible', 'reg_min_visible'), key
            assert (ours, theirs) == (0.0, MISSING), key
    want = {'mode', 'min_visible', 'reg_min_visible'}
    assert kinds == want | ({'box_type'} if 'mosaic' in name else set())


def test_scaled_control_is_union_at_one_weight():
    """The loss-scale control is the RetinaNet Union sibling with one
    ScaleLossWeights step before the packer, at the LossMix sibling's mean
    packed weight (0.397 measured over 1000 samples, rounded to 0.4)."""
    union = load(toy_path('retinanet_r18_fpn_union-mosaic_1xb4-800it_toy.py'))
    scaled = load(
        toy_path('retinanet_r18_fpn_union-mosaic-scaled_1xb4-800it_toy.py'))
    ours = scaled.train_dataloader.dataset.pipeline
    theirs = union.train_dataloader.dataset.pipeline
    assert ours[:-2] == theirs[:-1]
    assert ours[-2:] == [
        dict(type='ScaleLossWeights', scale=0.4),
        dict(type='PackLossMixInputs')
    ]
    scaled.train_dataloader.dataset.pipeline = theirs
    scaled.train_pipeline = union.train_pipeline
    assert config_diff(scaled.to_dict(), union.to_dict()) == {}


def test_toy_detectors_see_the_same_mosaic_data():
    """The region study's RetinaNet and Faster R-CNN mosaic configs train on
    the same data through the same pipeline; only the model differs."""
    for name in ('lossmix-mosaic', 'union-mosaic'):
        retina, faster = (
            load(
                toy_path(f'{det}_r18_fpn_{name}_1xb4-800it_toy.py')).to_dict()
            for det in ('retinanet', 'faster-rcnn'))
        assert retina['train_dataloader']['dataset'] == \
            faster['train_dataloader']['dataset']
        assert retina['model']['type'] == 'RetinaNet'
        assert retina['model']['bbox_head']['type'] == 'LossMixRetinaHead'


@pytest.mark.parametrize(
    'name', [n for n in LOSSMIX if PAIRS[n][1]],
    ids=lambda n: n.split('_lossmix')[0])
def test_union_sibling_is_stock_mmdet(name):
    """The RTMDet / YOLOX Union siblings are mmdet's configs with the
    LossMix head (and the runner, imports and resume hook)."""
    sibling, stock, _ = PAIRS[name]
    diff = config_diff(
        load(path_of(sibling)).to_dict(),
        Config.fromfile(osp.join(MMDET_CONFIGS, stock)).to_dict())
    assert set(diff) == {
        'model.bbox_head.type', 'runner_type', 'custom_imports.imports.0',
        'custom_imports.allow_failed_imports',
        'default_hooks.random_state.type'
    }
    assert diff['model.bbox_head.type'] == (head_types(name)['bbox_head'],
                                            diff['model.bbox_head.type'][1])


def test_faster_rcnn_ignores_slivers_in_both_assigners():
    for name in CONFIGS:
        if family(name) == 'faster':
            train_cfg = load(path_of(name)).model.train_cfg
            assert train_cfg.rpn.assigner.ignore_iof_thr == 0.5
            assert train_cfg.rcnn.assigner.ignore_iof_thr == 0.5


# ---------------------------------------------------------------- data


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    """A COCO layout (train2017 / val2017, 3 images of 3 boxes each, one
    box touching the image border) and a VOCdevkit (VOC2007 / VOC2012,
    trainval and test, 2 images of 2 boxes each)."""
    root = tmp_path_factory.mktemp('region_coco')
    (root / 'annotations').mkdir()
    categories = [dict(id=1, name='person'), dict(id=18, name='dog')]
    boxes = ((1, (5, 6, 35, 24)), (18, (30, 10, 30, 34)), (1, (0, 20, 20, 28)))
    ann_id = 1
    for split in ('train2017', 'val2017'):
        (root / split).mkdir()
        images, annotations = [], []
        for i in range(3):
            file_name = f'{split}_{i:06d}.jpg'
            write_image(str(root / split / file_name), 300 + i)
            images.append(
                dict(id=i + 1, file_name=file_name, width=IMG_W, height=IMG_H))
            for cat, (x, y, w, h) in boxes:
                annotations.append(
                    dict(
                        id=ann_id,
                        image_id=i + 1,
                        category_id=cat,
                        bbox=[x, y, w, h],
                        area=w * h,
                        iscrowd=0))
                ann_id += 1
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=categories)))
    voc = str(tmp_path_factory.mktemp('region_voc'))
    for i, year in enumerate(('VOC2007', 'VOC2012')):
        for j, split in enumerate(('trainval', 'test')):
            write_voc_split(
                osp.join(voc, year), split, year[-4:], seed=4 * i + 2 * j)
    return dict(coco=str(root) + '/', voc=voc + '/')


@pytest.fixture(autouse=True)
def iteration_info():
    """YOLOX's BatchSyncRandomResize reads the runner's iteration from the
    message hub: iteration 0, as at the start of training."""
    MessageHub.get_current_instance().update_info('iter', 0)


def draw(dataset, n, seed=0):
    """``n`` samples of ``dataset`` (indices cycled), seeded."""
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    return [dataset[i % len(dataset)] for i in range(n)]


# enough draws that the cached transforms (a mosaic needs 5 cached images)
# mix, and that some box is cut
NUM_DRAWS = 8


def check_packed(samples, lossmix):
    """Every sample packed; LossMix fields (w = c * v, v in (0, 1]) exactly
    on the LossMix configs' samples. Returns all packed visible shares."""
    visible = []
    for sample in samples:
        gt = sample['data_samples'].gt_instances
        assert sample['inputs'].dtype == torch.uint8
        assert sample['inputs'].shape[0] == 3
        assert len(gt) > 0
        assert ('loss_weights' in gt) == lossmix
        assert ('visible' in gt) == lossmix
        if not lossmix:
            continue
        meta = sample['data_samples'].metainfo
        # a blended sample's boxes carry its coefficient: 0.5 for mmdet's
        # MixUp (alpha=None), else 1 (mosaic tiles, CutMix patches)
        coeff = 0.5 if 'mix_lambda' in meta else 1.0
        if 'mix_lambda' in meta:
            assert meta['mix_lambda'] == 0.5
        assert ((gt.visible > 0) & (gt.visible <= 1)).all()
        torch.testing.assert_close(gt.loss_weights, coeff * gt.visible)
        visible.append(gt.visible)
    return torch.cat(visible) if visible else torch.zeros(0)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_model_and_data(name, roots):
    cfg = small(name, roots)
    model = MODELS.build(cfg.model)
    for key, head in head_types(name).items():
        assert type(getattr(model, key)).__name__ == head
    for split in ('val_dataloader', 'test_dataloader'):
        DATASETS.build(cfg[split].dataset)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = draw(dataset, NUM_DRAWS)
    visible = check_packed(samples, name in PAIRS)
    if name in PAIRS:  # some box is cut by a tile, crop, affine or patch
        assert (visible < 1).any() and (visible == 1).any()
    data = model.data_preprocessor(
        dict(
            inputs=[s['inputs'] for s in samples[-2:]],
            data_samples=[s['data_samples'] for s in samples[-2:]]), True)
    assert data['inputs'].shape[0] == 2


def stage2_dataset(cfg):
    """The train dataset of the last epochs (RTMDet's PipelineSwitchHook,
    YOLOX's mode switch), and the hook's config."""
    hooks = {h.type: h for h in cfg.custom_hooks}
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    if 'PipelineSwitchHook' in hooks:
        hook = hooks['PipelineSwitchHook']
        assert hook.switch_epoch == 280  # mmdet's: 300 - 20
        dataset.pipeline = hook.switch_pipeline
        return DATASETS.build(dataset), hook
    hook = hooks['YOLOXModeSwitchHook']
    assert hook.num_last_epochs == 15  # mmdet's
    dataset = DATASETS.build(dataset)
    skip = hook.get('skip_type_keys', ('Mosaic', 'RandomAffine', 'MixUp'))
    # the hook skips every mixing transform of the pipeline and only those
    mixing = {
        t
        for t in dataset.pipeline_types
        if 'Mosaic' in t or 'MixUp' in t or t == 'RandomAffine'
    }
    assert set(skip) == mixing and len(mixing) == 3
    dataset.update_skip_type_keys(skip)
    return dataset, hook


@pytest.mark.parametrize(
    'name', [n for n in CONFIGS if family(n) in ('rtmdet', 'yolox')])
def test_stage2_pipeline_packs(name, roots):
    cfg = small(name, roots)
    dataset, hook = stage2_dataset(cfg)
    lossmix = name in PAIRS
    if hook.type == 'PipelineSwitchHook':
        pipeline = hook.switch_pipeline
        assert [t.type for t in pipeline][-1] == \
            ('PackLossMixInputs' if lossmix else 'PackDetInputs')
        assert pipeline[1].get('box_type') == \
            ('lossmix_hbox' if lossmix else None)
    samples = draw(dataset, 4)
    visible = check_packed(samples, lossmix)
    for sample in samples:  # no blend in stage 2
        assert 'mix_lambda' not in sample['data_samples'].metainfo
        assert tuple(sample['inputs'].shape[1:]) == (64, 64)
    if lossmix and hook.type == 'YOLOXModeSwitchHook':
        # resize, flip and pad only: every box whole, weight 1
        assert (visible == 1).all()


def test_union_sibling_has_the_lossmix_images(roots):
    """RTMDet-s: for the same random state the LossMix and Union configs
    train on the same images (the weights are all that differs)."""
    name = 'rtmdet_s_lossmix-mosaic_8xb32-300e_coco.py'
    images = []
    for config in (name, PAIRS[name][0]):
        cfg = small(config, roots)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        images.append([s['inputs'] for s in draw(dataset, NUM_DRAWS)])
    for ours, theirs in zip(*images):
        assert torch.equal(ours, theirs)


@pytest.mark.slow
@pytest.mark.parametrize('name', LOSSMIX)
def test_lossmix_config_trains_one_step(name, roots):
    """One training step of the whole detector on mixed samples: finite
    losses of a sane magnitude, every loss term present."""
    cfg = small(name, roots)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    samples = draw(dataset, NUM_DRAWS)[-2:]
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    losses = model.train_step(
        dict(
            inputs=[s['inputs'] for s in samples],
            data_samples=[s['data_samples'] for s in samples]), optim)
    assert torch.isfinite(losses['loss'])
    assert losses['loss'] < 1000
    assert len(losses) > 2
