"""Every domain-adaptation config (``configs/lossmix_da/``) parses, builds on
tiny VOC-format fixtures, pulls samples through its pipelines and says what
the paper says (Sec. 5, supp. C-D, Tables 4-5): Adaptive Teacher's C4
detector, the mixing of Eq. 15-16, pseudo-labels at 0.8 without box
regression, the discriminator on the weak views, weak crop + flip, both
source views, teacher and student evaluated and the best of each kept."""
import copy
import glob
import os.path as osp
import random
import re

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, HOOKS, METRICS, MODELS
from mmdet.utils import register_all_modules
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATA_SAMPLERS

import lossmix_mm  # noqa: F401  (registers the LossMix modules)
from lossmix_test_utils import (find_transforms, flatten_dicts,
                                inheritance_depth, load, set_data_root,
                                write_voc_split)

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'lossmix_da')
C4, FPN = 'r101-caffe_c4', 'r101_fpn'
NAME_RE = re.compile(
    r'^(?:mixed-teacher_faster-rcnn_(?P<det>r101-caffe_c4|r101_fpn)_'
    r'(?P<variant>lossmix|union|noise|nomix)_4xb2\+2-60k'
    r'|faster-rcnn_(?P<src_det>r101-caffe_c4|r101_fpn)_'
    r'(?P<source>source-only)_4xb2-20k)'
    r'_voc0712-(?P<target>clipart1k|watercolor2k)\.py$')
TARGETS = dict(
    clipart1k=dict(num_classes=20, root='data/clipart/'),
    watercolor2k=dict(num_classes=6, root='data/watercolor/'))
WATERCOLOR = ('bicycle', 'bird', 'car', 'cat', 'dog', 'person')
VARIANTS = ('lossmix', 'union', 'noise', 'nomix', 'source-only')
# variant -> (mixer mode, loss weights, phases with the nst term)
TEACHERS = {
    'lossmix': ('lossmix', dict(mss=1.0, nst=1.0, mtt=1.0,
                                mst=1.0), ('warmup', )),
    'union': ('union', dict(mss=1.0, nst=1.0, mtt=1.0, mst=1.0), ('warmup', )),
    # Table 4 "Noise": the AT-style teacher + nst throughout the training
    'noise': (None, dict(mss=1.0, nst=1.0, mtt=1.0,
                         mst=0.0), ('warmup', 'adapt')),
    # the Adaptive-Teacher-style baseline
    'nomix': (None, dict(mss=1.0, nst=0.0, mtt=1.0, mst=0.0), ('warmup', )),
}
# the paper's detector, Adaptive Teacher's: Detectron2 R101-C4, MSRA
# caffe-style ImageNet weights, res4 only, 2-fc box head on 7x7 RoIs
C4_CKPT = 'open-mmlab://detectron2/resnet101_caffe'
CAFFE_MEAN = [103.530, 116.280, 123.675]
# the weak view's crop: relative_range, 80-100 % of each side
CROP = dict(
    type='RandomCrop', crop_type='relative_range', crop_size=(0.8, 0.8))
STRONG_TYPES = [
    'RandomApply', 'RandomGrayscale', 'RandomGaussianBlur', 'RandomErasing'
]
BRANCHES = ['sup', 'sup_strong', 'unsup_teacher', 'unsup_student']

CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
IDS = [osp.basename(p)[:-3] for p in CONFIGS]


def parse(path):
    match = NAME_RE.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming rule'
    name = match.groupdict()
    name['det'] = name['det'] or name['src_det']
    name['variant'] = name['variant'] or name['source']
    return name


def config_path(det, variant, target):
    if variant == 'source-only':
        name = f'faster-rcnn_{det}_source-only_4xb2-20k_voc0712-{target}.py'
    else:
        name = (f'mixed-teacher_faster-rcnn_{det}_{variant}_4xb2+2-60k_'
                f'voc0712-{target}.py')
    return osp.join(CONFIG_DIR, name)


def test_all_found():
    found = {(parse(p)['det'], parse(p)['variant'], parse(p)['target'])
             for p in CONFIGS}
    # the paper's detector: every variant on both targets
    assert {(C4, v, t) for v in VARIANTS for t in TARGETS} <= found
    # FPN siblings (ours): at least these
    assert {(FPN, 'lossmix', 'clipart1k'), (FPN, 'nomix', 'clipart1k'),
            (FPN, 'lossmix', 'watercolor2k')} <= found


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


def check_c4(det):
    """Adaptive Teacher's detector: R101 caffe up to res4 (stride 16, 1024
    channels), RPN on res4, 7x7 RoIAlign of res4 into a 2-fc box head."""
    assert det.data_preprocessor.mean == CAFFE_MEAN
    assert det.data_preprocessor.std == [1.0, 1.0, 1.0]
    assert det.data_preprocessor.bgr_to_rgb is False
    bb = det.backbone
    assert bb.type == 'ResNet' and bb.depth == 101 and bb.style == 'caffe'
    assert bb.num_stages == 3 and tuple(bb.out_indices) == (2, )
    assert tuple(bb.strides) == (1, 2, 2)  # stem 4 x 1 x 2 x 2 = stride 16
    # frozen BN; stem + res2 frozen (Detectron2's FREEZE_AT=2)
    assert bb.frozen_stages == 1
    assert bb.norm_cfg.requires_grad is False and bb.norm_eval is True
    assert bb.init_cfg == dict(type='Pretrained', checkpoint=C4_CKPT)
    assert 'neck' not in det
    assert det.rpn_head.in_channels == 1024
    assert det.rpn_head.anchor_generator.strides == [16]
    roi = det.roi_head
    assert roi.shared_head is None  # no res5 head
    assert roi.bbox_roi_extractor.roi_layer.output_size == 7
    assert roi.bbox_roi_extractor.out_channels == 1024
    assert roi.bbox_roi_extractor.featmap_strides == [16]
    head = roi.bbox_head
    assert head.type == 'Shared2FCBBoxHead'
    assert (head.in_channels, head.fc_out_channels, head.roi_feat_size) == \
        (1024, 1024, 7)
    assert 'with_avg_pool' not in head  # nothing of the C4 BBoxHead merged


def check_fpn(det):
    assert det.backbone.depth == 101 and det.backbone.style == 'pytorch'
    assert det.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='torchvision://resnet101')
    assert det.neck.type == 'FPN' and det.neck.out_channels == 256
    assert det.roi_head.bbox_head.type == 'Shared2FCBBoxHead'


def check_crop_first(pipeline, negative, voc=True):
    """The weak crop (shared by both views: before MultiBranch or the
    packer) comes before the resize, so the short side stays 600."""
    types = [t.type for t in pipeline]
    if voc and types[1] == 'LoadAnnotations':
        # the source trains on VOC 'difficult' boxes, as Detectron2's VOC
        # loader (Adaptive Teacher's) does
        assert types[2] == 'ClearIgnoreFlags', types
        pipeline = pipeline[:2] + pipeline[3:]
        types = [t.type for t in pipeline]
    assert types[:2] in (['LoadImageFromFile', 'LoadAnnotations'],
                         ['LoadImageFromFile', 'LoadEmptyAnnotations'])
    assert types[2:5] == ['RandomCrop', 'Resize', 'RandomFlip']
    crop = pipeline[2]
    assert {k: crop[k] for k in CROP} == CROP
    assert crop.allow_negative_crop is negative


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_paper_settings(path):
    name = parse(path)
    target = TARGETS[name['target']]
    cfg = load(path)
    det = merged_detector(cfg)
    assert det.type == 'FasterRCNN'
    (check_c4 if name['det'] == C4 else check_fpn)(det)
    assert det.roi_head.bbox_head.num_classes == target['num_classes']
    # short side 600 in training and testing
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        resizes = find_transforms(cfg[key], 'Resize')
        assert resizes and all(
            tuple(r.scale) == (1333, 600) and r.keep_ratio for r in resizes)
    assert not find_transforms(cfg.val_dataloader, 'RandomCrop')
    # VOC AP50, area-based (VOC2012 style), on the target's test split
    assert cfg.val_evaluator == dict(
        type='VOCMetric', metric='mAP', eval_mode='area')
    assert cfg.val_dataloader.dataset.data_root == target['root']
    assert cfg.val_dataloader.dataset.ann_file == 'ImageSets/Main/test.txt'
    assert cfg.optim_wrapper.optimizer.lr in (0.002, 0.005, 0.01)
    assert cfg.train_cfg.val_interval == 1000  # AT evaluates every 1000
    if name['target'] == 'watercolor2k':
        for _, node in _datasets(cfg):
            assert tuple(node.metainfo.classes) == WATERCOLOR
    if name['source']:
        assert cfg.model.type == 'FasterRCNN'
        assert det.rpn_head.type == 'RPNHead'  # stock heads
        assert det.roi_head.type == 'StandardRoIHead'
        assert cfg.train_cfg.max_iters == 20000
        assert cfg.default_hooks.checkpoint.save_best == 'pascal_voc/mAP'
        for ds in cfg.train_dataloader.dataset.datasets:
            check_crop_first(ds.pipeline, negative=False)
            assert ds.pipeline[-1].type == 'PackDetInputs'
        return

    mode, weights, nst_phases = TEACHERS[name['variant']]
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
    assert semi.pseudo_box_reg is False  # pseudo-boxes: cross-entropy only
    assert dict(semi.loss_weights) == weights
    assert tuple(semi.nst_phases) == nst_phases
    assert tuple(semi.nst_noise_range) == (0.0, 0.1)  # lam_target < 0.1
    assert semi.mst_lambda is None  # lam ~ Beta(1, 1) from the mixer
    # the discriminator reads the weak, unmixed views: res4 (backbone output
    # 0, 1024 channels) on C4; the stride-16 FPN level on FPN
    assert semi.disc_input == 'weak'
    disc_at, channels = (('backbone', 0), 1024) if name['det'] == C4 else \
        (('neck', 2), 256)
    assert (semi.disc_feature, semi.disc_level) == disc_at
    assert cfg.model.discriminator == dict(
        type='ImageDomainDiscriminator',
        in_channels=channels,
        feat_channels=256,
        loss_weight=0.1)
    assert cfg.custom_hooks == [
        dict(type='MixingScheduleHook', warmup_iters=20000, keep_rate=0.9996),
        dict(type='CheckInvalidLossHook', interval=50),
        dict(type='TeacherStudentBestHook', metric='pascal_voc/mAP')
    ]
    assert cfg.train_cfg.max_iters == 60000
    assert cfg.val_cfg.type == 'TeacherStudentValLoop'
    # "select the model weights with higher performance among the two"
    ckpt = cfg.default_hooks.checkpoint
    assert ckpt.save_best == [
        'teacher/pascal_voc/mAP', 'student/pascal_voc/mAP'
    ]
    assert ckpt.rule == 'greater'
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    # data: source and target 1:1 in every batch, 2 + 2 per GPU
    loader = cfg.train_dataloader
    assert loader.sampler == dict(
        type='GroupMultiSourceSampler', batch_size=4, source_ratio=[1, 1])
    assert loader.batch_size == 4
    source, target_ds = loader.dataset.datasets
    assert target_ds.data_root == target['root']
    assert target_ds.ann_file == 'ImageSets/Main/train.txt'
    # weak crop + flip shared by the views; a crop must keep a source box
    check_crop_first(target_ds.pipeline, negative=True)
    assert [t.type for t in target_ds.pipeline][5:] == ['MultiBranch']
    branches = target_ds.pipeline[-1]
    assert branches.branch_field == BRANCHES
    assert [t.type for t in branches.unsup_teacher] == ['PackDetInputs']
    strong = branches.unsup_student
    assert [t.type for t in strong] == STRONG_TYPES + ['PackDetInputs']
    by_type = {t.type: t for t in strong}
    assert by_type['RandomApply'].prob == 0.8
    assert by_type['RandomApply'].transforms[0].type == \
        'PhotoMetricDistortion'
    assert by_type['RandomGrayscale'].prob == 0.2
    assert by_type['RandomGaussianBlur'].sigma_range == (0.1, 2.0)
    assert by_type['RandomGaussianBlur'].prob == 0.5
    for branch in (branches.unsup_teacher, branches.unsup_student):
        assert 'homography_matrix' in branch[-1].meta_keys
    # the source: weak view 'sup' and strong view 'sup_strong' (the same
    # photometric pipeline as the target's strong view), both with boxes
    for ds in source.datasets:
        check_crop_first(ds.pipeline, negative=False)
        src_branches = ds.pipeline[-1]
        assert src_branches.type == 'MultiBranch'
        assert src_branches.branch_field == BRANCHES
        assert src_branches.sup == dict(type='PackDetInputs')
        sup_strong = src_branches.sup_strong
        assert sup_strong[:-1] == strong[:-1]
        assert sup_strong[-1] == dict(type='PackDetInputs')


def _without(node, *keys):
    node = copy.deepcopy(node.to_dict() if hasattr(node, 'to_dict') else node)
    for key in keys:
        node.pop(key, None)
    return node


@pytest.mark.parametrize('target', sorted(TARGETS))
@pytest.mark.parametrize('det', [C4, FPN])
def test_siblings_agree(det, target):
    """The source-only config trains the teacher's detector (stock heads);
    the mixing variants change only the mixing; the FPN teacher has the C4
    teacher's recipe, bar the detector and the discriminator's input."""
    lossmix = load(config_path(det, 'lossmix', target))
    detector = _without(lossmix.model.detector)
    detector['rpn_head']['type'] = 'RPNHead'
    detector['roi_head']['type'] = 'StandardRoIHead'
    source = load(config_path(det, 'source-only', target))
    assert _without(source.model) == detector
    for variant in ('union', 'noise', 'nomix'):
        path = config_path(det, variant, target)
        if not osp.exists(path):
            continue
        cfg = load(path)
        assert _without(cfg.model, 'mixer', 'semi_train_cfg') == \
            _without(lossmix.model, 'mixer', 'semi_train_cfg')
        assert _without(cfg.model.semi_train_cfg, 'loss_weights',
                        'nst_phases') == \
            _without(lossmix.model.semi_train_cfg, 'loss_weights',
                     'nst_phases')
        for key in ('train_dataloader', 'val_dataloader', 'custom_hooks',
                    'default_hooks', 'train_cfg', 'optim_wrapper'):
            assert cfg[key] == lossmix[key], key
    if det == FPN:
        c4 = load(config_path(C4, 'lossmix', target))
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                    'val_evaluator', 'train_cfg', 'val_cfg', 'optim_wrapper',
                    'param_scheduler', 'custom_hooks', 'default_hooks',
                    'model_wrapper_cfg'):
            assert lossmix[key] == c4[key], key
        for key in ('mixer', 'semi_test_cfg'):
            assert lossmix.model[key] == c4.model[key], key
        assert _without(lossmix.model.semi_train_cfg, 'disc_feature',
                        'disc_level') == \
            _without(c4.model.semi_train_cfg, 'disc_feature', 'disc_level')


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
        write_voc_split(
            osp.join(root, year), 'trainval', year[-4:], seed=2 * i)
    write_voc_split(root, 'train', 'target', seed=10)
    write_voc_split(root, 'test', 'target', seed=20)
    return root + '/'


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_build(path, da_root):
    cfg = set_data_root(load(path), da_root)
    model = MODELS.build(cfg.model)  # no weights are loaded by building
    train = DATASETS.build(cfg.train_dataloader.dataset)
    for hook in cfg.custom_hooks if 'custom_hooks' in cfg else []:
        HOOKS.build(copy.deepcopy(hook))
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
        assert src['inputs']['unsup_student'] is None
        weak_src = src['data_samples']['sup']
        strong_src = src['data_samples']['sup_strong']
        # both source views carry the boxes, in the same geometry (the
        # fixture's boxes are too big for the erasing to drop one)
        assert len(weak_src.gt_instances) == 2
        assert torch.equal(weak_src.gt_instances.bboxes.tensor,
                           strong_src.gt_instances.bboxes.tensor)
        assert weak_src.img_shape == strong_src.img_shape
        assert weak_src.flip == strong_src.flip
        weak = tgt['data_samples']['unsup_teacher']
        strong = tgt['data_samples']['unsup_student']
        assert tgt['inputs']['sup'] is None
        assert tgt['inputs']['sup_strong'] is None
        assert len(strong.gt_instances) == 0  # target labels never read
        assert min(weak.img_shape) == 600  # short side 600 after the crop
        assert weak.img_shape == strong.img_shape
        assert (weak.homography_matrix == strong.homography_matrix).all()
        # the multi-branch preprocessor turns the pair into branch batches
        data = model.data_preprocessor(pseudo_collate([src, tgt]), True)
        assert set(data['inputs']) == set(BRANCHES)
        assert data['inputs']['sup'].shape[0] == 1
        assert data['inputs']['sup_strong'].shape[0] == 1
        assert data['inputs']['unsup_student'].dtype == torch.float32
    else:
        item = train[0]
        assert len(item['data_samples'].gt_instances) >= 1
        assert min(item['data_samples'].img_shape) == 600
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == 2
    sample = val[0]
    assert min(sample['data_samples'].img_shape) == 600
    metric = METRICS.build(cfg.val_evaluator)
    metric.dataset_meta = val.metainfo
    assert len(val.metainfo['classes']) == TARGETS[parse(path)
                                                   ['target']]['num_classes']


def _tiny(cfg, scale=(64, 48)):
    """The config on tiny images (every Resize to ``scale``) with few
    proposals, RoIs and detections: the C4 box head's first fc reads
    1024 x 7 x 7 values per RoI."""
    for key in ('train_dataloader', 'val_dataloader'):
        for resize in find_transforms(cfg[key], 'Resize'):
            resize.scale = scale
    det = cfg.model.detector
    det.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=50)
    det.train_cfg.rcnn.sampler.num = 32
    det.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    det.test_cfg.rcnn.max_per_img = 5  # at most 5 pseudo-boxes an image
    return cfg


FORWARD = [
    config_path(C4, 'lossmix', 'clipart1k'),
    config_path(C4, 'noise', 'clipart1k'),
    config_path(FPN, 'lossmix', 'watercolor2k'),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    'path', FORWARD, ids=[osp.basename(p)[:-3] for p in FORWARD])
def test_forward(path, da_root):
    """A training step of each phase and a prediction on tiny inputs: the
    C4 res4 map has stride 16 and 1024 channels, the losses are finite and
    every term the phase trains is there."""
    torch.manual_seed(0)
    cfg = _tiny(set_data_root(load(path), da_root))
    cfg.model.semi_train_cfg.cls_pseudo_thr = 0.0  # untrained teacher
    model = MODELS.build(cfg.model)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    num_src = len(train.datasets[0])
    items = [train[0], train[1], train[num_src], train[num_src + 1]]
    data = model.data_preprocessor(pseudo_collate(items), True)
    name = parse(path)
    if name['det'] == C4:
        x = data['inputs']['sup']
        feats = model.student.extract_feat(x)
        assert len(feats) == 1
        assert feats[0].shape[1] == 1024
        assert feats[0].shape[2:] == (x.shape[2] // 16, x.shape[3] // 16)
    noise = name['variant'] == 'noise'
    for phase in ('warmup', 'adapt'):
        model.set_phase(phase)
        losses = model.loss(data['inputs'], data['data_samples'])
        total = 0
        for key, value in losses.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                assert torch.isfinite(v).all(), key
                if 'loss' in key:
                    total = total + v.sum()
        assert any(k.startswith('mss_loss') for k in losses)
        assert any(k.startswith('nst_loss') for k in losses)
        if phase == 'adapt':
            for term in ('mtt', ) + (() if noise else ('mst', )):
                assert any(k.startswith(f'{term}_loss') for k in losses)
            assert losses['loss_disc_src'] > 0
            assert losses['loss_disc_tgt'] > 0
            if noise:  # nst is trained in the adaptation too
                assert losses['nst_loss_cls'] > 0
        total.backward()
        model.zero_grad()
    model.eval()
    val = DATASETS.build(cfg.val_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([val[0]]), False)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    assert len(out) == 1 and 'pred_instances' in out[0]


TOY_DA = sorted(
    glob.glob(osp.join(REPO, 'configs', 'toy', '*_toy2clipart.py')))


def _toy_step(cfg, source_root, target_root):
    """Pull 2 source + 2 target samples of the toy DA config from the
    generated toy domains and train one step of each phase."""
    source, target = cfg.train_dataloader.dataset.datasets
    source.data_root, target.data_root = source_root + '/', target_root + '/'
    cfg.model.semi_train_cfg.cls_pseudo_thr = 0.0  # untrained teacher
    model = MODELS.build(cfg.model)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    num_src = len(train.datasets[0])
    items = [train[0], train[1], train[num_src], train[num_src + 1]]
    src = items[0]['data_samples']
    assert len(src['sup'].gt_instances) >= 1
    assert len(src['sup_strong'].gt_instances) >= 1
    assert src['sup'].img_shape == src['sup_strong'].img_shape
    data = model.data_preprocessor(pseudo_collate(items), True)
    assert set(data['inputs']) == set(BRANCHES)
    for phase in ('warmup', 'adapt'):
        model.set_phase(phase)
        losses = model.loss(data['inputs'], data['data_samples'])
        assert ('loss_disc_src' in losses) and ('mss_loss_cls' in losses)
        total = sum(
            sum(v) if isinstance(v, (list, tuple)) else v
            for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        total.backward()


@pytest.mark.slow
@pytest.mark.parametrize(
    'path', TOY_DA, ids=[osp.basename(p)[:-3] for p in TOY_DA])
def test_toy_da_configs(path, toy_root, toy_clipart_root):
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
            dict(type='MixingScheduleHook', warmup_iters=200, keep_rate=0.99),
            dict(type='CheckInvalidLossHook', interval=50),
            dict(type='TeacherStudentBestHook', metric='coco/bbox_mAP_50')
        ]
        assert cfg.default_hooks.checkpoint.save_best == [
            'teacher/coco/bbox_mAP_50', 'student/coco/bbox_mAP_50'
        ]
        semi = cfg.model.semi_train_cfg
        assert semi.cls_pseudo_thr == 0.8
        assert semi.pseudo_box_reg is False
        assert semi.disc_input == 'weak'
        assert tuple(semi.nst_phases) == ('warmup', )
        assert tuple(semi.pseudo_quality_thrs) == (0.5, 0.6, 0.7, 0.8)
        source, target = cfg.train_dataloader.dataset.datasets
        assert [source.data_root, target.data_root] == \
            ['data/toy/', 'data/toy_clipart/']
        check_crop_first(source.pipeline, negative=False, voc=False)
        check_crop_first(target.pipeline, negative=True, voc=False)
        branches = source.pipeline[-1]
        assert branches.branch_field == BRANCHES
        assert [t.type for t in branches.sup_strong] == \
            STRONG_TYPES + ['PackDetInputs']
        assert branches.sup_strong[:-1] == \
            target.pipeline[-1].unsup_student[:-1]
        _toy_step(copy.deepcopy(cfg), toy_root, toy_clipart_root)
    else:
        assert cfg.train_cfg.max_iters == 1200
        assert cfg.train_dataloader.dataset.data_root == 'data/toy/'
    MODELS.build(cfg.model)
    for hook in cfg.get('custom_hooks', []):
        HOOKS.build(copy.deepcopy(hook))


@pytest.mark.slow
def test_toy_target_annotations_leave_the_views_unchanged(toy_clipart_root):
    """The toy target loads its annotations (for the pseudo-box
    diagnostics only): for the same random state both views, their
    geometry and the samples drawn are those of LoadEmptyAnnotations."""
    path = [p for p in TOY_DA if 'mixed-teacher' in p][0]
    target = load(path).train_dataloader.dataset.datasets[1]
    target.data_root = toy_clipart_root + '/'
    assert target.pipeline[1] == dict(type='LoadAnnotations', with_bbox=True)
    empty = copy.deepcopy(target)
    empty.pipeline[1] = dict(type='LoadEmptyAnnotations')
    datasets = [DATASETS.build(target), DATASETS.build(empty)]
    some_boxes = 0
    assert len(datasets[0]) == len(datasets[1]) > 0
    for i in range(len(datasets[0])):
        views = []
        for dataset in datasets:
            np.random.seed(i)
            random.seed(i)
            views.append(dataset[i])
        for key in ('unsup_teacher', 'unsup_student'):
            annotated, plain = (v['data_samples'][key] for v in views)
            assert torch.equal(views[0]['inputs'][key],
                               views[1]['inputs'][key])
            np.testing.assert_array_equal(annotated.homography_matrix,
                                          plain.homography_matrix)
            assert len(plain.gt_instances) == 0
        some_boxes += len(
            views[0]['data_samples']['unsup_teacher'].gt_instances)
    assert some_boxes > 0  # the annotated views do carry the truth
