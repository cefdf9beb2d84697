"""Every config in ``configs/lossmix/`` parses, builds and says what the
paper says.

Like detectron2's ``tests/test_model_zoo.py``: for each config the model is
built (no weights are downloaded) and the train/val/test datasets are built on
tiny VOC- and COCO-format fixtures written to a temporary directory, samples
are pulled through each pipeline and the data preprocessor, and the
experiment settings (schedule, optimizer, mixing implementation and mode,
head flags, checkpoint selection) are checked against the LossMix paper
(supp. A-B, Tables 1-3) and the Detectron2 defaults it follows (caffe-style
MSRA backbones, no weight decay on norm layers, training on VOC difficult
boxes).
"""
import glob
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, METRICS, MODELS
from mmdet.utils import register_all_modules

import lossmix_mm  # noqa: F401  (registers the LossMix modules)
from lossmix_test_utils import (IMG_H, IMG_W, find_transforms, flatten_dicts,
                                flatten_leaves, inheritance_depth, load,
                                set_data_root, write_image, write_voc_split)

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'lossmix')
# the Faster R-CNN configs of the paper's tables (other detector families:
# test_configs_families.py)
# the region-mixing siblings (-mosaic_, -cutmix_): tests/test_configs_region.py
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_DIR, 'faster-rcnn_*.py'))
    if not re.search(r'-(mosaic|cutmix)_', osp.basename(p)))
CONFIG_IDS = [osp.basename(p)[:-3] for p in CONFIGS]

# faster-rcnn_{r50|r101}_fpn[_{variant}]_8xb8-{18k|270k}_{voc0712|coco}.py
NAME_RE = re.compile(r'^faster-rcnn_r(?P<depth>50|101)_fpn'
                     r'(?:_(?P<variant>[a-z][\w.-]*?))?'
                     r'_8xb8-(?P<sched>18k|270k)_(?P<data>voc0712|coco)\.py$')

# LossMixPair's / BatchLossMix's mixing defaults, which a config may leave out
MIX_DEFAULTS = dict(
    mode='lossmix', alpha=1.0, prob=1.0, noise_range=(0.0, 0.2))
MIX_ALL = ((True, True), (True, True))
# per variant: (mixer, mixing arguments other than the defaults, head flags)
#   mixer: None (no mixing), 'batch' (BatchLossMix batch augment: the paper's
#     in-batch mixing, supp. A), 'pair' (LossMixPair in a
#     MultiImageMixDataset, our option);
#   head flags: ((rpn mix_cls, rpn mix_reg), (roi mix_cls, roi mix_reg)),
#     None = stock RPNHead / StandardRoIHead.
# Every config named after a paper row (no '-pair') mixes in-batch.
VARIANTS = {
    None: (None, None, None),
    'lossmix': ('batch', dict(), MIX_ALL),
    'union': ('batch', dict(mode='union'), MIX_ALL),
    'noise': ('batch', dict(mode='noise'), MIX_ALL),
    'lossmix-pair': ('pair', dict(), MIX_ALL),
    # the pair transform drawing partners from its cache of 20 samples
    'lossmix-cached-pair': ('pair', dict(cache_size=20), MIX_ALL),
    'union-pair': ('pair', dict(mode='union'), None),
    'noise-pair': ('pair', dict(mode='noise'), None),
    'lossmix-clsonly': ('batch', dict(), ((True, False), (True, False))),
    'lossmix-loconly': ('batch', dict(), ((False, True), (False, True))),
    'lossmix-roionly': ('batch', dict(), ((False, False), (True, True))),
    'lossmix-alpha0.2': ('batch', dict(alpha=0.2), MIX_ALL),
    'lossmix-alpha5': ('batch', dict(alpha=5.0), MIX_ALL),
    'lossmix-alpha20': ('batch', dict(alpha=20.0), MIX_ALL),
    'lossmix-regmixup': ('batch', dict(prob=0.5), MIX_ALL),
    'lossmix-exact': ('batch', dict(), MIX_ALL),
    'lossmix-partial': ('batch', dict(), MIX_ALL),
}
# the paper's main rows, each with a pair-transform sibling '{row}-pair'
MAIN_ROWS = ('lossmix', 'union', 'noise')
# variants that also change: the heads to exact Eq. 14, the custom hooks
EXACT = {'lossmix-exact'}
CUSTOM_HOOKS = {
    'lossmix-partial':
    [dict(type='MixingScheduleHook', schedule=[dict(iter=16000, prob=0.0)])]
}

# Detectron2's ImageNet-1k backbones: MSRA caffe-style weights, BGR input
CAFFE_MEAN = [103.530, 116.280, 123.675]
CAFFE_STD = [1.0, 1.0, 1.0]

DATA = {
    'voc0712':
    dict(
        max_iters=18000,
        milestones=[12000, 16000],
        val_interval=2000,
        short_sides=list(range(480, 801, 32)),
        num_classes=20,
        save_best=['pascal_voc/AP50', 'pascal_voc/mAP']),
    'coco':
    dict(
        max_iters=270000,
        milestones=[210000, 250000],
        val_interval=10000,
        short_sides=list(range(640, 801, 32)),
        num_classes=80,
        save_best=['coco/bbox_mAP']),
}


def parse_name(path):
    match = NAME_RE.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming rule'
    return match.groupdict()


def _memoize_with_errors(fn):
    """``fn`` called once per argument tuple, exceptions remembered too."""
    memo = {}

    def wrapper(*args):
        if args not in memo:
            try:
                memo[args] = (True, fn(*args))
            except ValueError as e:
                memo[args] = (False, e)
        ok, value = memo[args]
        if ok:
            return value
        raise value

    return wrapper


@pytest.fixture(scope='module', autouse=True)
def fast_external_bases():
    """mmengine 0.10.7 resolves every ``mmdet::`` base by first parsing all
    ~400 metafiles of mmdet's model zoo (~0.2 s per base here), then falls
    back to ``.mim/configs/<path>``; remember the outcome per path."""
    import mmengine.config.config as config_module
    original = getattr(config_module, '_get_external_cfg_path', None)
    if original is None:  # another mmengine: nothing to speed up
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config_module, '_get_external_cfg_path',
                   _memoize_with_errors(original))
        yield


def baseline_path(path):
    name = parse_name(path)
    sched = name['sched']
    return osp.join(CONFIG_DIR,
                    f'faster-rcnn_r50_fpn_8xb8-{sched}_{name["data"]}.py')


# --------------------------------------------------------------- fixtures


def mark_difficult(xml_path):
    """Mark the last object ('person') of a fixture annotation difficult."""
    with open(xml_path, encoding='utf-8') as f:
        text = f.read()
    k = text.rindex('<difficult>0</difficult>')
    text = text[:k] + '<difficult>1</difficult>' + \
        text[k + len('<difficult>0</difficult>'):]
    with open(xml_path, 'w', encoding='utf-8') as f:
        f.write(text)


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    """VOCdevkit with VOC2007/VOC2012, 2 trainval + 2 test 64x48 images each,
    every image with 2 boxes; in each year's first trainval image the second
    box is "difficult"."""
    root = str(tmp_path_factory.mktemp('VOCdevkit'))
    for i, year in enumerate(('VOC2007', 'VOC2012')):
        for j, split in enumerate(('trainval', 'test')):
            write_voc_split(
                osp.join(root, year), split, year[-4:], seed=4 * i + 2 * j)
        mark_difficult(
            osp.join(root, year, 'Annotations', f'{year[-4:]}_trainval_0.xml'))
    return root + '/'


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    """COCO layout: train2017/val2017 with 2 64x48 images each."""
    root = tmp_path_factory.mktemp('coco')
    (root / 'annotations').mkdir()
    categories = [dict(id=1, name='person'), dict(id=18, name='dog')]
    ann_id = 1
    for split in ('train2017', 'val2017'):
        (root / split).mkdir()
        images, annotations = [], []
        for i in range(2):
            img_id = len(images) + 1
            file_name = f'{split}_{i:06d}.jpg'
            write_image(str(root / split / file_name), 100 + img_id)
            images.append(
                dict(
                    id=img_id, file_name=file_name, width=IMG_W, height=IMG_H))
            for cat, box in ((1, [5, 6, 35, 24]), (18, [30, 10, 30, 34])):
                annotations.append(
                    dict(
                        id=ann_id,
                        image_id=img_id,
                        category_id=cat,
                        bbox=box,
                        area=box[2] * box[3],
                        iscrowd=0))
                ann_id += 1
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps(
                dict(
                    images=images,
                    annotations=annotations,
                    categories=categories)))
    return str(root) + '/'


@pytest.fixture
def data_roots(voc_root, coco_root):
    return dict(voc0712=voc_root, coco=coco_root)


# ------------------------------------------------------------------ tests


def test_all_configs_found():
    assert len(CONFIGS) >= 38, CONFIGS
    for path in CONFIGS:
        parse_name(path)
    # every variant has a config, every config a known variant
    names = [parse_name(p) for p in CONFIGS]
    assert {n['variant'] for n in names} == set(VARIANTS)


def test_main_rows_have_pair_siblings():
    """Each main paper row (baseline, LossMix, Union, Noise; R50 and R101;
    VOC and COCO) has its in-batch config and a pair-transform sibling."""
    found = {(n['depth'], n['variant'], n['data'])
             for n in map(parse_name, CONFIGS)}
    for depth in ('50', '101'):
        for data in DATA:
            assert (depth, None, data) in found
            for row in MAIN_ROWS:
                assert (depth, row, data) in found
                assert (depth, f'{row}-pair', data) in found
    assert not [p for p in CONFIGS if 'inbatch' in p], \
        'in-batch mixing is the paper rows\' default, no -inbatch configs'


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_config_style(path):
    assert inheritance_depth(path) <= 3
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert text.startswith('#'), 'leaf configs start with a comment header'
    assert 'paper' in text.split('_base_')[0].lower()
    cfg = load(path)
    assert cfg.custom_imports == dict(
        imports=['lossmix_mm'], allow_failed_imports=False)
    # the file itself states custom_imports (not only inherits it)
    assert 'custom_imports = dict(' in text
    # the header says which implementation a mixing config is
    variant = parse_name(path)['variant'] or ''
    header = ' '.join(text.split('_base_')[0].replace('#', ' ').split())
    if variant.endswith('-pair'):
        assert 'pair transform' in header and 'in-batch' in header
    elif variant in MAIN_ROWS:
        assert 'in-batch' in header


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_paper_settings(path):
    name = parse_name(path)
    data = DATA[name['data']]
    cfg = load(path)

    # model: Faster R-CNN R50/R101-FPN, ImageNet init, SyncBN, trained BN
    backbone = cfg.model.backbone
    assert cfg.model.type == 'FasterRCNN'
    assert backbone.depth == int(name['depth'])
    assert backbone.norm_cfg == dict(type='SyncBN', requires_grad=True)
    assert backbone.norm_eval is False
    assert cfg.model.roi_head.bbox_head.num_classes == data['num_classes']

    # Detectron2's ImageNet-1k R-50/R-101: MSRA caffe-style weights, which
    # expect BGR images with the caffe mean and std 1
    assert backbone.style == 'caffe'
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint=f'open-mmlab://detectron2/resnet{name["depth"]}_caffe')
    preprocessor = cfg.model.data_preprocessor
    assert preprocessor.mean == pytest.approx(CAFFE_MEAN)
    assert preprocessor.std == pytest.approx(CAFFE_STD)
    assert preprocessor.bgr_to_rgb is False

    # optimizer and schedule: 8 GPUs x 8 images, lr 0.08, Detectron2 steps,
    # Detectron2's WEIGHT_DECAY_NORM = 0 (biases decay like weights)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.08, momentum=0.9, weight_decay=0.0001)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0)
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=64)
    assert cfg.train_cfg == dict(
        type='IterBasedTrainLoop',
        max_iters=data['max_iters'],
        val_interval=data['val_interval'])
    warmup, steps = cfg.param_scheduler
    assert warmup == dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100)
    assert steps == dict(
        type='MultiStepLR',
        begin=0,
        end=data['max_iters'],
        by_epoch=False,
        milestones=data['milestones'],
        gamma=0.1)
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.log_processor.by_epoch is False

    # checkpoints: at every validation, best AP50 (VOC) / best AP (COCO)
    ckpt = cfg.default_hooks.checkpoint
    assert ckpt.by_epoch is False
    assert ckpt.interval == data['val_interval']
    assert 0 < ckpt.max_keep_ckpts <= 5
    save_best = ckpt.save_best
    assert (save_best if isinstance(save_best, list) else [save_best]) == \
        data['save_best']
    assert ckpt.rule == 'greater'

    # multi-scale training, test at short side 800
    resize = find_transforms(cfg.train_dataloader, 'RandomChoiceResize')
    assert resize, 'no RandomChoiceResize in the training data'
    for t in resize:
        assert t.keep_ratio is True
        assert [tuple(s) for s in t.scales] == [(1333, s)
                                                for s in data['short_sides']]
    for key in ('val_dataloader', 'test_dataloader'):
        (test_resize, ) = find_transforms(cfg[key], 'Resize')
        assert tuple(test_resize.scale) == (1333, 800)
        assert test_resize.keep_ratio is True
        assert not find_transforms(cfg[key], 'RandomChoiceResize')
        # evaluation keeps the dataset's ignore flags (VOC difficult)
        assert not find_transforms(cfg[key], 'ClearIgnoreFlags')
    flips = find_transforms(cfg.train_dataloader, 'RandomFlip')
    assert flips and all(t.prob == 0.5 for t in flips)

    pipelines = [
        node.pipeline for _, node in flatten_dicts(cfg.train_dataloader)
        if 'pipeline' in node and any(t.type == 'LoadAnnotations'
                                      for t in node.pipeline)
    ]
    assert pipelines, 'no training pipeline loads annotations'
    if name['data'] == 'voc0712':
        # Detectron2 trains on VOC "difficult" boxes: every pipeline that
        # loads annotations clears the ignore flags right after
        for pipeline in pipelines:
            types = [t.type for t in pipeline]
            k = types.index('LoadAnnotations')
            assert types[k + 1] == 'ClearIgnoreFlags', types
        assert cfg.val_evaluator.type == 'VOCMetric'
        assert cfg.val_evaluator.eval_mode == '11points'
        assert cfg.val_evaluator.iou_thrs == pytest.approx(
            [0.5 + 0.05 * i for i in range(10)])
        train = cfg.train_dataloader.dataset
        concat = train.dataset if train.type == 'MultiImageMixDataset' \
            else train
        assert concat.type == 'ConcatDataset'
        assert [d.ann_file for d in concat.datasets] == [
            'VOC2007/ImageSets/Main/trainval.txt',
            'VOC2012/ImageSets/Main/trainval.txt'
        ]
        assert cfg.val_dataloader.dataset.ann_file == \
            'VOC2007/ImageSets/Main/test.txt'
    else:
        # COCO crowd boxes stay ignored (Detectron2 drops them)
        assert not find_transforms(cfg.train_dataloader, 'ClearIgnoreFlags')
        assert cfg.val_evaluator.type == 'CocoMetric'
        assert cfg.val_evaluator.metric == 'bbox'


def mixing_args(transform_cfg):
    """The mixing arguments of a LossMixPair / BatchLossMix config, with the
    defaults filled in."""
    args = dict(MIX_DEFAULTS, **transform_cfg)
    args['noise_range'] = tuple(args['noise_range'])
    args.pop('type')
    return args


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_mixing_settings(path):
    name = parse_name(path)
    variant = name['variant']
    assert variant in VARIANTS, f'unknown variant {variant}'
    mixer, mix_args, head_flags = VARIANTS[variant]
    if variant is not None:  # the paper's rows mix in-batch
        assert mixer == ('pair' if variant.endswith('-pair') else 'batch')
    cfg = load(path)
    train = cfg.train_dataloader.dataset
    augments = cfg.model.data_preprocessor.get('batch_augments')
    expected = dict(MIX_DEFAULTS, **(mix_args or {}))

    assert cfg.get('custom_hooks', []) == CUSTOM_HOOKS.get(variant, [])
    if mixer is None:
        assert augments is None
        assert train.type != 'MultiImageMixDataset'
        assert not [
            v for v in flatten_leaves(cfg.to_dict()).values()
            if isinstance(v, str) and v.startswith(('LossMix', 'BatchLossMix'))
        ]
    elif mixer == 'batch':
        # one loader (the baseline's data), the batch mixed with itself
        assert train.type == 'ConcatDataset' if name['data'] == 'voc0712' \
            else train.type == 'CocoDataset'
        assert not find_transforms(cfg.train_dataloader, 'LossMixPair')
        assert not find_transforms(cfg.train_dataloader, 'PackLossMixInputs')
        (augment, ) = augments
        assert augment.type == 'BatchLossMix'
        # the partner order is BatchLossMix's default
        assert 'partner' not in augment
        assert mixing_args(augment) == expected
    else:
        assert augments is None
        assert train.type == 'MultiImageMixDataset'
        pair, pack = train.pipeline
        assert pack == dict(type='PackLossMixInputs')
        assert pair.type == 'LossMixPair'
        assert mixing_args(pair) == expected
        # the inner pipelines load, resize and flip; nothing is packed twice
        inner = [
            'LoadImageFromFile', 'LoadAnnotations', 'RandomChoiceResize',
            'RandomFlip'
        ]
        if name['data'] == 'voc0712':
            inner.insert(2, 'ClearIgnoreFlags')
        for _, node in flatten_dicts(train.dataset):
            if 'pipeline' in node:
                assert [t.type for t in node.pipeline] == inner

    rpn, roi = cfg.model.rpn_head, cfg.model.roi_head
    if head_flags is None:
        assert (rpn.type, roi.type) == ('RPNHead', 'StandardRoIHead')
    else:
        assert (rpn.type, roi.type) == ('LossMixRPNHead', 'LossMixRoIHead')
        for head, (mix_cls, mix_reg) in zip((rpn, roi), head_flags):
            assert head.get('mix_cls', True) is mix_cls
            assert head.get('mix_reg', True) is mix_reg
            assert head.get('exact', False) is (variant in EXACT)


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_only_experiment_keys_differ_from_baseline(path):
    """Against the R50 baseline of its dataset, a config changes only the
    backbone depth/weights, the heads and the training data wrapper."""
    allowed = ('model.backbone.depth', 'model.backbone.init_cfg.checkpoint',
               'model.rpn_head.type', 'model.rpn_head.mix_',
               'model.roi_head.type', 'model.roi_head.mix_',
               'model.rpn_head.exact', 'model.roi_head.exact',
               'model.data_preprocessor.batch_augments', 'custom_hooks',
               'train_dataloader.dataset.')
    ours = flatten_leaves(load(path).to_dict())
    base = flatten_leaves(load(baseline_path(path)).to_dict())
    changed = {
        k
        for k in ours.keys() | base.keys()
        if ours.get(k, '<missing>') != base.get(k, '<missing>')
    }
    unexpected = sorted(k for k in changed if not k.startswith(allowed))
    assert not unexpected, unexpected


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_model_builds(path):
    name = parse_name(path)
    mixer, mix_args, head_flags = VARIANTS[name['variant']]
    cfg = load(path)
    cfg.model.backbone.init_cfg = None  # nothing to download
    model = MODELS.build(cfg.model)
    assert model.backbone.depth == int(name['depth'])
    assert isinstance(model.backbone.norm1, torch.nn.SyncBatchNorm)
    # caffe style: the stride of a bottleneck sits in its first 1x1 conv
    assert model.backbone.layer2[0].conv1.stride == (2, 2)
    assert model.backbone.layer2[0].conv2.stride == (1, 1)
    assert model.roi_head.bbox_head.num_classes == \
        DATA[name['data']]['num_classes']
    if head_flags is None:
        assert type(model.rpn_head).__name__ == 'RPNHead'
        assert type(model.roi_head).__name__ == 'StandardRoIHead'
    else:
        for head, (mix_cls, mix_reg) in zip((model.rpn_head, model.roi_head),
                                            head_flags):
            assert (head.mix_cls, head.mix_reg) == (mix_cls, mix_reg)
            assert head.exact is (name['variant'] in EXACT)
    augments = model.data_preprocessor.batch_augments or []
    if mixer == 'batch':
        (augment, ) = augments
        assert type(augment).__name__ == 'BatchLossMix'
        expected = dict(MIX_DEFAULTS, **mix_args)
        assert (augment.mode, augment.alpha,
                augment.prob) == (expected['mode'], expected['alpha'],
                                  expected['prob'])
        assert tuple(augment.noise_range) == expected['noise_range']
    else:
        assert not augments


@pytest.mark.parametrize('data', ['voc0712', 'coco'])
def test_norm_layers_have_no_weight_decay(data):
    """Detectron2's WEIGHT_DECAY_NORM = 0: the built optimizer decays no
    normalisation parameter and every other trained parameter (biases
    included) at 1e-4."""
    from mmengine.optim import build_optim_wrapper
    path = osp.join(
        CONFIG_DIR, f'faster-rcnn_r50_fpn_8xb8-'
        f'{"18k" if data == "voc0712" else "270k"}_{data}.py')
    cfg = load(path)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    decay = {}
    for group in optim.param_groups:
        for param in group['params']:
            decay[id(param)] = group['weight_decay']
    norm_params, other_params = 0, 0
    for module_name, module in model.named_modules():
        is_norm = isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
        for param_name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if is_norm:
                norm_params += 1
                assert decay[id(param)] == 0.0, (module_name, param_name)
            else:
                other_params += 1
                assert decay[id(param)] == pytest.approx(1e-4), \
                    (module_name, param_name)
    assert norm_params > 0 and other_params > 0


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_datasets_build(path, data_roots):
    name = parse_name(path)
    mixer, _, _ = VARIANTS[name['variant']]
    cfg = set_data_root(load(path), data_roots[name['data']])
    np.random.seed(0)
    torch.manual_seed(0)

    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) == (4 if name['data'] == 'voc0712' else 2)
    items = [train[0], train[1]]
    sample = items[0]['data_samples']
    gts = sample.gt_instances
    assert len(gts) > 0
    assert items[0]['inputs'].shape[1:] == sample.img_shape
    # the 64x48 fixture images are upscaled: short side is a scale choice
    # (a mixed canvas is max H x max W of two such images)
    assert min(sample.img_shape) in DATA[name['data']]['short_sides']
    assert max(sample.img_shape) <= 1333
    if name['data'] == 'voc0712':
        # difficult boxes are trained on: nothing is left ignored
        for item in items:
            assert len(item['data_samples'].ignored_instances) == 0
    if mixer == 'pair':
        assert 'loss_weights' in gts
        weights = gts.loss_weights
        assert weights.dtype == torch.float32 and len(weights) == len(gts)
        assert bool(((weights > 0) & (weights <= 1)).all())
        assert 0.0 <= sample.metainfo['mix_lambda'] <= 1.0
    else:
        assert 'loss_weights' not in gts

    # the data preprocessor (caffe normalisation, in-batch mixing) on a
    # batch of two training samples
    from mmengine.dataset import pseudo_collate
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    batch = preprocessor(pseudo_collate(items), training=True)
    assert batch['inputs'].shape[:2] == (2, 3)
    for data_sample in batch['data_samples']:
        gts = data_sample.gt_instances
        if mixer is None:
            assert 'loss_weights' not in gts
        else:
            assert 'loss_weights' in gts and len(gts.loss_weights) == len(gts)
            assert 0.0 <= data_sample.metainfo['mix_lambda'] <= 1.0

    for key in ('val_dataloader', 'test_dataloader'):
        dataset = DATASETS.build(cfg[key].dataset)
        assert len(dataset) == 2
        sample = dataset[0]['data_samples']
        assert min(sample.img_shape) == 800


def test_voc_difficult_boxes_trained_on_but_not_evaluated(voc_root):
    """Without ClearIgnoreFlags mmdet's VOCDataset would make the difficult
    box of the fixture an ignored instance; with it the training sample has
    both boxes as gts. Evaluation data keep the flag."""
    path = osp.join(CONFIG_DIR, 'faster-rcnn_r50_fpn_8xb8-18k_voc0712.py')
    cfg = set_data_root(load(path), voc_root)
    voc07 = cfg.train_dataloader.dataset.datasets[0]
    # the first trainval image of VOC2007 has a difficult box
    assert voc07.ann_file == 'VOC2007/ImageSets/Main/trainval.txt'
    ours = DATASETS.build(voc07)
    sample = ours[0]['data_samples']
    assert (len(sample.gt_instances), len(sample.ignored_instances)) == (2, 0)

    stock_pipeline = [
        t for t in voc07.pipeline if t.type != 'ClearIgnoreFlags'
    ]
    stock = DATASETS.build(dict(voc07, pipeline=stock_pipeline))
    sample = stock[0]['data_samples']
    assert (len(sample.gt_instances), len(sample.ignored_instances)) == (1, 1)

    # the test pipeline on the same split: the difficult box stays ignored
    test = DATASETS.build(
        dict(voc07, pipeline=cfg.val_dataloader.dataset.pipeline))
    sample = test[0]['data_samples']
    assert (len(sample.gt_instances), len(sample.ignored_instances)) == (1, 1)


@pytest.mark.parametrize('data', ['voc0712', 'coco'])
def test_save_best_keys_are_logged(data, data_roots):
    """The evaluator really reports the keys ``save_best`` looks for."""
    path = osp.join(
        CONFIG_DIR, f'faster-rcnn_r50_fpn_8xb8-'
        f'{"18k" if data == "voc0712" else "270k"}_{data}.py')
    cfg = set_data_root(load(path), data_roots[data])
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = dataset.metainfo
    for idx in range(len(dataset)):
        sample = dataset[idx]['data_samples'].to_dict()
        gts = dataset.get_data_info(idx)['instances']
        bboxes = torch.tensor([g['bbox'] for g in gts], dtype=torch.float32)
        # perfect detections, boxes in the original image frame
        sample['pred_instances'] = dict(
            bboxes=bboxes,
            scores=torch.ones(len(gts)),
            labels=torch.tensor([g['bbox_label'] for g in gts]))
        if data == 'voc0712':  # VOCMetric reads the packed gts
            sample['gt_instances'] = dict(
                bboxes=bboxes,
                labels=torch.tensor([g['bbox_label'] for g in gts]))
            sample['ignored_instances'] = dict(
                bboxes=torch.zeros((0, 4)), labels=torch.zeros(0).long())
        metric.process({}, [sample])
    results = metric.evaluate(len(dataset))
    save_best = cfg.default_hooks.checkpoint.save_best
    for key in save_best if isinstance(save_best, list) else [save_best]:
        assert key in results, (key, sorted(results))
        assert results[key] == pytest.approx(1.0, abs=1e-3)
