"""Every domain-adaptation config (``configs/lossmix_da/``) parses, builds on
tiny VOC-format fixtures, pulls samples through its pipelines and says what
the paper says (Sec. 5, supp. C-D, Tables 4-5)."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATA_SAMPLERS

from mmdet.registry import DATASETS, METRICS, MODELS
from mmdet.utils import register_all_modules

register_all_modules()
import lossmix_mm  # noqa: E402,F401  (registers the LossMix modules)
from lossmix_test_utils import (find_transforms, flatten_dicts,  # noqa
                                inheritance_depth, load, set_data_root,
                                write_voc_split)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'lossmix_da')
NAME_RE = re.compile(
    r'^(?:mixed-teacher_faster-rcnn_r101_fpn_(?P<variant>lossmix|union|noise'
    r'|nomix)_4xb2\+2-60k|faster-rcnn_r101_fpn_(?P<source>source-only)'
    r'_4xb2-20k)_voc0712-(?P<target>clipart1k|watercolor2k)\.py$')
TARGETS = dict(clipart1k=dict(num_classes=20, root='data/clipart/'),
               watercolor2k=dict(num_classes=6, root='data/watercolor/'))
WATERCOLOR = ('bicycle', 'bird', 'car', 'cat', 'dog', 'person')
# variant -> (mixer mode, loss weights)
VARIANTS = {
    'lossmix': ('lossmix', dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0)),
    'union': ('union', dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0)),
    'noise': ('noise', dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0)),
    'nomix': (None, dict(mss=1.0, nst=0.0, mtt=1.0, mst=0.0)),
}


CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
IDS = [osp.basename(p)[:-3] for p in CONFIGS]


def parse(path):
    match = NAME_RE.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming rule'
    return match.groupdict()


def test_all_found():
    names = {(parse(p)['variant'] or 'source-only', parse(p)['target'])
             for p in CONFIGS}
    assert names == {(v, t)
                     for v in ('lossmix', 'union', 'noise', 'nomix',
                               'source-only')
                     for t in TARGETS}


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_style(path):
    assert inheritance_depth(path) <= 3
    with open(path, encoding='utf-8') as f:
        text = f.read()
    assert text.startswith('#')
    assert 'paper' in text.split('_base_')[0].lower()
    assert 'custom_imports = dict(' in text


def merged_detector(cfg):
    return cfg.model.detector if cfg.model.type == 'MixedDomainTeacher' \
        else cfg.model


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_paper_settings(path):
    name = parse(path)
    target = TARGETS[name['target']]
    cfg = load(path)
    det = merged_detector(cfg)
    assert det.type == 'FasterRCNN'
    assert det.backbone.depth == 101
    assert det.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='torchvision://resnet101')
    assert det.roi_head.bbox_head.num_classes == target['num_classes']
    # short side 600 in training and testing
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        resizes = find_transforms(cfg[key], 'Resize')
        assert resizes and all(
            tuple(r.scale) == (1333, 600) and r.keep_ratio for r in resizes)
    # VOC AP50, area-based (VOC2012 style), on the target's test split
    assert cfg.val_evaluator == dict(
        type='VOCMetric', metric='mAP', eval_mode='area')
    assert cfg.val_dataloader.dataset.data_root == target['root']
    assert cfg.val_dataloader.dataset.ann_file == 'ImageSets/Main/test.txt'
    assert cfg.optim_wrapper.optimizer.lr in (0.002, 0.005, 0.01)
    if name['target'] == 'watercolor2k':
        for _, node in _datasets(cfg):
            assert tuple(node.metainfo.classes) == WATERCOLOR
    if name['source']:
        assert cfg.model.type == 'FasterRCNN'
        assert cfg.train_cfg.max_iters == 20000
        assert cfg.default_hooks.checkpoint.save_best == 'pascal_voc/mAP'
        return

    variant = name['variant']
    mode, weights = VARIANTS[variant]
    assert cfg.model.type == 'MixedDomainTeacher'
    assert det.rpn_head.type == 'LossMixRPNHead'
    assert det.roi_head.type == 'LossMixRoIHead'
    if mode is None:
        assert cfg.model.mixer is None
    else:
        assert cfg.model.mixer.type == 'BatchLossMix'
        assert cfg.model.mixer.mode == mode
        assert cfg.model.mixer.alpha == 1.0
    semi = cfg.model.semi_train_cfg
    assert semi.cls_pseudo_thr == 0.8
    assert dict(semi.loss_weights) == weights
    assert semi.nst_noise_range[1] <= 0.1  # lam_target < 0.1
    # stride-16 FPN level (strides 4, 8, 16, 32, 64)
    assert semi.disc_feature == 'neck' and semi.disc_level == 2
    assert cfg.model.discriminator == dict(
        type='ImageDomainDiscriminator', in_channels=256, feat_channels=256,
        loss_weight=0.1)
    assert cfg.custom_hooks == [
        dict(type='MixingScheduleHook', warmup_iters=20000,
             keep_rate=0.9996),
        dict(type='CheckInvalidLossHook', interval=50)
    ]
    assert cfg.train_cfg.max_iters == 60000
    assert cfg.val_cfg.type == 'TeacherStudentValLoop'
    assert cfg.default_hooks.checkpoint.save_best == \
        'teacher/pascal_voc/mAP'
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    # data: source and target 1:1 in every batch, 2 + 2 per GPU
    loader = cfg.train_dataloader
    assert loader.sampler == dict(
        type='GroupMultiSourceSampler', batch_size=4, source_ratio=[1, 1])
    assert loader.batch_size == 4
    source, target_ds = loader.dataset.datasets
    assert target_ds.data_root == target['root']
    assert target_ds.ann_file == 'ImageSets/Main/train.txt'
    pipeline = [t.type for t in target_ds.pipeline]
    assert pipeline == ['LoadImageFromFile', 'LoadEmptyAnnotations',
                        'Resize', 'RandomFlip', 'MultiBranch']
    branches = target_ds.pipeline[-1]
    assert [t.type for t in branches.unsup_teacher] == ['PackDetInputs']
    strong = {t.type: t for t in branches.unsup_student}
    assert strong['RandomApply'].prob == 0.8
    assert strong['RandomApply'].transforms[0].type == \
        'PhotoMetricDistortion'
    assert strong['RandomGrayscale'].prob == 0.2
    assert strong['RandomGaussianBlur'].sigma_range == (0.1, 2.0)
    assert strong['RandomGaussianBlur'].prob == 0.5
    assert 'RandomErasing' in strong
    for branch in (branches.unsup_teacher, branches.unsup_student):
        assert 'homography_matrix' in branch[-1].meta_keys


def _datasets(cfg):
    """(path, dataset dict) of every VOCDataset in the config's loaders."""
    for key in ('train_dataloader', 'val_dataloader'):
        for path, node in flatten_dicts(cfg[key]):
            if node.get('type') == 'VOCDataset':
                yield path, node


@pytest.fixture(scope='module')
def da_root(tmp_path_factory):
    """VOC07/12 trainval (source) and a VOC-format target (train, test)
    side by side in one root."""
    root = str(tmp_path_factory.mktemp('da'))
    for i, year in enumerate(('VOC2007', 'VOC2012')):
        write_voc_split(osp.join(root, year), 'trainval', year[-4:],
                        seed=2 * i)
    write_voc_split(root, 'train', 'target', seed=10)
    write_voc_split(root, 'test', 'target', seed=20)
    return root + '/'


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_build(path, da_root):
    cfg = set_data_root(load(path), da_root)
    model = MODELS.build(cfg.model)  # no weights are loaded by building
    train = DATASETS.build(cfg.train_dataloader.dataset)
    if cfg.model.type == 'MixedDomainTeacher':
        assert model.discriminator is not None
        num_src = len(train.datasets[0])
        assert num_src == 4 and len(train.datasets[1]) == 2
        sampler = DATA_SAMPLERS.build(
            cfg.train_dataloader.sampler,
            default_args=dict(dataset=train, seed=0))
        batch = [i for _, i in zip(range(4), iter(sampler))]
        assert sum(i < num_src for i in batch) == 2  # 2 source + 2 target
        src, tgt = train[0], train[num_src]
        assert src['inputs']['sup'] is not None
        assert src['inputs']['unsup_student'] is None
        assert len(src['data_samples']['sup'].gt_instances) == 2
        weak = tgt['data_samples']['unsup_teacher']
        strong = tgt['data_samples']['unsup_student']
        assert len(strong.gt_instances) == 0  # target labels never read
        assert min(weak.img_shape) == 600  # short side 600
        assert weak.img_shape == strong.img_shape
        assert (weak.homography_matrix == strong.homography_matrix).all()
        # the multi-branch preprocessor turns the pair into branch batches
        data = model.data_preprocessor(pseudo_collate([src, tgt]), True)
        assert set(data['inputs']) == {'sup', 'unsup_teacher',
                                       'unsup_student'}
        assert data['inputs']['sup'].shape[0] == 1
        assert data['inputs']['unsup_student'].dtype == torch.float32
    else:
        item = train[0]
        assert len(item['data_samples'].gt_instances) >= 1
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == 2
    sample = val[0]
    assert min(sample['data_samples'].img_shape) == 600
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = val.metainfo
    assert len(val.metainfo['classes']) == TARGETS[parse(path)['target']][
        'num_classes']


TOY_DA = sorted(glob.glob(osp.join(REPO, 'configs', 'toy',
                                   '*_toy2clipart.py')))


@pytest.mark.parametrize('path', TOY_DA,
                         ids=[osp.basename(p)[:-3] for p in TOY_DA])
def test_toy_da_configs(path):
    assert inheritance_depth(path) <= 3
    cfg = load(path)
    # evaluated on the target domain's held-out images
    assert cfg.val_dataloader.dataset.data_root == 'data/toy_clipart/'
    assert cfg.val_evaluator.ann_file == \
        'data/toy_clipart/annotations/val.json'
    if cfg.model.type == 'MixedDomainTeacher':
        # 200 warmup + 600 adaptation iterations from the source-only model
        assert cfg.train_cfg.max_iters == 800
        assert cfg.load_from == 'work_dirs/da_source_only/iter_1200.pth'
        assert cfg.custom_hooks == [
            dict(type='MixingScheduleHook', warmup_iters=200,
                 keep_rate=0.99),
            dict(type='CheckInvalidLossHook', interval=50)
        ]
        assert cfg.model.semi_train_cfg.cls_pseudo_thr == 0.8
        roots = [d.data_root for d in cfg.train_dataloader.dataset.datasets]
        assert roots == ['data/toy/', 'data/toy_clipart/']
    else:
        assert cfg.train_cfg.max_iters == 1200
        assert cfg.train_dataloader.dataset.data_root == 'data/toy/'
    MODELS.build(cfg.model)
