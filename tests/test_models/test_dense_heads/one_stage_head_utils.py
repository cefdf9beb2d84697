"""Helpers of the one-stage LossMix head tests (RetinaNet, FCOS, ATSS,
RTMDet): tiny heads built from mmdet's own configs, seeded features, loss
dicts as floats, a hand-written focal loss and a two-iteration training."""
import copy
import math
from functools import lru_cache

import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.hub import get_config

from lossmix_mm.datasets.transforms import PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes
from lossmix_test_utils import make_gts

SIZE = 64
IMG_META = dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE), scale_factor=1)
NUM_CLASSES = 3
# two boxes of different labels: a positive's label names its gt
GT_BOXES = [[4, 4, 36, 36], [26, 20, 60, 58]]
GT_LABELS = [0, 1]

CONFIGS = dict(
    retina='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    fcos='mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    atss='mmdet::atss/atss_r50_fpn_1x_coco.py',
    rtmdet='mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py')


@lru_cache(maxsize=None)
def _model_cfg(kind):
    return get_config(CONFIGS[kind]).model


def model_cfg(kind):
    """mmdet's detector config of ``kind`` (a private copy)."""
    return copy.deepcopy(_model_cfg(kind))


def head_cfg(kind, type_=None, **kwargs):
    """The bbox head of ``kind`` with 8 channels, one conv, 3 classes."""
    model = model_cfg(kind)
    cfg = model.bbox_head
    cfg.update(
        num_classes=NUM_CLASSES,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        train_cfg=model.get('train_cfg'),
        test_cfg=model.get('test_cfg'))
    if kind in ('fcos', 'atss'):
        cfg.norm_cfg = dict(type='GN', num_groups=4, requires_grad=True)
    if kind == 'rtmdet':
        cfg.norm_cfg = dict(type='BN')
    if type_ is not None:
        cfg.type = type_
    cfg.update(kwargs)
    return cfg


def build_pair(kind, lossmix_type, **kwargs):
    """The stock head and the LossMix head with the same parameters."""
    torch.manual_seed(0)
    stock = MODELS.build(head_cfg(kind))
    ours = MODELS.build(head_cfg(kind, lossmix_type, **kwargs))
    ours.load_state_dict(stock.state_dict())
    return stock.eval(), ours.eval()


def strides(head):
    return [
        s[0] if isinstance(s, (tuple, list)) else s
        for s in head.prior_generator.strides
    ]


def feats(head, seeds=(0, )):
    """Seeded features, one image per seed, ceil(SIZE / stride) wide."""
    levels = []
    for stride in strides(head):
        n = math.ceil(SIZE / stride)
        levels.append(
            torch.cat([
                torch.randn(
                    1,
                    8,
                    n,
                    n,
                    generator=torch.Generator().manual_seed(seed * 10 + n))
                for seed in seeds
            ]))
    return tuple(levels)


def raw_losses(head, gts_list, metas=None, seeds=None):
    """``loss_by_feat`` of seeded features, loss tensors as returned."""
    seeds = tuple(range(len(gts_list))) if seeds is None else seeds
    metas = [IMG_META] * len(gts_list) if metas is None else metas
    outs = head(feats(head, seeds))
    return head.loss_by_feat(*outs, gts_list, metas)


def losses(head, gts_list, metas=None, seeds=None):
    """As :func:`raw_losses`, each loss summed over levels, a float."""
    out = raw_losses(head, gts_list, metas, seeds)
    return {
        k: (sum(v) if isinstance(v, list) else v).item()
        for k, v in out.items()
    }


def gts(weights=None, reg_weights=None, boxes=GT_BOXES, labels=GT_LABELS):
    """The two test gts (or ``boxes``), optional weights."""
    gt = make_gts(boxes, labels, weights)
    if reg_weights is not None:
        gt.reg_weights = torch.tensor(reg_weights, dtype=torch.float32)
    return gt


def mixed_gts(lam):
    """Gt 0 from the own image (weight lam), gt 1 from the partner."""
    gt = gts([lam, 1 - lam])
    gt.mix_group = torch.tensor([0, 1])
    return gt


def focal_terms(logits, labels, alpha=0.25, gamma=2.0):
    """Sigmoid focal loss of every sample, summed over the classes, by the
    formula: -alpha (1 - p)^g log p for the true class, -(1 - alpha) p^g
    log(1 - p) for the others (label ``C`` = background, no true class).

    Args:
        logits (Tensor): (S, C).
        labels (Tensor): (S, ) in [0, C].

    Returns:
        Tensor: (S, ) float64.
    """
    logits = logits.double()
    num_classes = logits.size(1)
    target = torch.zeros_like(logits)
    pos = labels < num_classes
    target[pos, labels[pos]] = 1
    p = logits.sigmoid()
    loss = -alpha * (1 - p)**gamma * torch.log(p) * target - (
        1 - alpha) * p**gamma * torch.log(1 - p) * (1 - target)
    return loss.sum(1)


def flat_scores(cls_scores, num_classes=NUM_CLASSES):
    """Per level (B, A * C, H, W) -> (S, C) in the heads' flattening order
    (level, then image, then position, then anchor)."""
    return torch.cat(
        [s.permute(0, 2, 3, 1).reshape(-1, num_classes) for s in cls_scores])


def detector_batch(weights):
    """Two 64x64 images packed by ``PackLossMixInputs``; ``weights`` per
    image or None (unmixed)."""
    rng = np.random.RandomState(0)
    samples = []
    for i, boxes in enumerate(([[4, 6, 40, 50], [30, 10, 60,
                                                 40]], [[10, 10, 50, 60]])):
        n = len(boxes)
        results = dict(
            img=rng.randint(0, 255, (SIZE, SIZE, 3)).astype(np.float32),
            img_id=i,
            img_path=f'{i}.png',
            ori_shape=(SIZE, SIZE),
            img_shape=(SIZE, SIZE),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None,
            gt_bboxes=HorizontalBoxes(np.array(boxes, np.float32)),
            gt_bboxes_labels=np.arange(n, dtype=np.int64),
            gt_ignore_flags=np.zeros(n, dtype=bool))
        if weights is not None:
            results.update(
                gt_bboxes=LossMixBoxes(
                    np.array(boxes, np.float32),
                    loss_weights=np.array(weights[i], np.float32),
                    mix_group=np.arange(n, dtype=np.int64)),
                mix_lambda=float(weights[i][0]))
        samples.append(PackLossMixInputs()(results))
    return dict(
        inputs=[s['inputs'] for s in samples],
        data_samples=[s['data_samples'] for s in samples])


def tiny_detector_cfg(kind, head_type):
    """mmdet's detector of ``kind``: ResNet-18 of base 8 channels (random
    init), FPN of 8 channels, the head of :func:`head_cfg`."""
    cfg = model_cfg(kind)
    head = _model_cfg(kind).bbox_head
    num_outs = len(head.get('strides') or head.anchor_generator.strides)
    cfg.backbone = dict(
        type='ResNet',
        depth=18,
        base_channels=8,
        num_stages=4,
        out_indices=(1, 2, 3),
        norm_cfg=dict(type='BN'),
        init_cfg=None)
    cfg.neck = dict(
        type='FPN',
        in_channels=[16, 32, 64],
        out_channels=8,
        start_level=0,
        add_extra_convs='on_output',
        num_outs=num_outs)
    cfg.bbox_head = head_cfg(kind, head_type)
    cfg.bbox_head.pop('train_cfg')
    cfg.bbox_head.pop('test_cfg')
    cfg.data_preprocessor.pad_size_divisor = 32
    return cfg


def train_two_iters(kind, head_type, weights=([0.3, 0.7], [0.6])):
    """Two SGD steps of the tiny detector on a LossMix batch.

    Args:
        weights (tuple, optional): the gts' loss weights of each image; None
            for an unmixed batch.

    Returns:
        list[float]: the total loss of each step.
    """
    torch.manual_seed(0)
    model = MODELS.build(tiny_detector_cfg(kind, head_type))
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    totals = []
    for _ in range(2):
        data = model.data_preprocessor(detector_batch(weights), True)
        loss_dict = model.loss(data['inputs'], data['data_samples'])
        loss, _ = model.parse_losses(loss_dict)
        optim.zero_grad()
        loss.backward()
        optim.step()
        totals.append(loss.item())
    return totals


def assert_same_losses(got, ref):
    """Two raw loss dicts are equal, bit for bit."""
    assert got.keys() == ref.keys()
    for key in ref:
        a, b = got[key], ref[key]
        if not isinstance(a, list):
            a, b = [a], [b]
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert torch.equal(x, y), key


def one_gt(index, weights=None, reg_weights=None):
    """Gt ``index`` of the test gts alone."""
    return gts(
        weights,
        reg_weights,
        boxes=GT_BOXES[index:index + 1],
        labels=GT_LABELS[index:index + 1])
