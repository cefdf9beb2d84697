"""LossMix's per-box fields through mmdet's own transforms after
``LossMixPair``, with the arguments of mmdet's RTMDet, YOLOX, SSD and DINO
configs (image scales shrunk to the tiny test images).

Every source box has its own label, so each packed box names the box it
came from. For each transform and seed, the LossMix run (``LossMixBoxes``)
and a stock run (the same sample with plain ``HorizontalBoxes``, the same
seeds) must give the same image, boxes and labels, and each packed box the
weight and group of its source: lam for the own image's boxes, 1 - lam for
the partner's, 1 (group 0) for boxes that other transforms paste in
(``Mosaic`` tiles, ``MixUp`` partners).
"""
import copy
import random

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.utils import register_all_modules

from lossmix_mm.datasets.transforms import LossMixPair, PackLossMixInputs
from lossmix_mm.structures import LossMixBoxes

register_all_modules()  # default scope mmdet, as configs have it

LAM = 0.25
# own image 32x40 (labels 0-2, box 2 ignored), partner 24x32 (labels 3-4);
# canvas 32x40, partner at (x, y) (4, 4)
OWN_BOXES = [[2, 2, 12, 10], [20, 4, 38, 16], [6, 18, 30, 30]]
PARTNER_BOXES = [[1, 1, 9, 9], [14, 10, 30, 22]]
WEIGHTS = {0: LAM, 1: LAM, 2: LAM, 3: 1 - LAM, 4: 1 - LAM}
GROUPS = {3: 1, 4: 1}


def loaded(h, w, boxes, labels, box_type='hbox', seed=0, ignore=None):
    """One image's results as mmdet's loading gives them."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    box_cls = LossMixBoxes if box_type == 'lossmix_hbox' else HorizontalBoxes
    img = np.random.RandomState(seed).randint(0, 256, (h, w, 3))
    return dict(
        img=img.astype(np.uint8),
        img_id=seed,
        img_path=f'{seed}.png',
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=box_cls(boxes),
        gt_bboxes_labels=np.asarray(labels, np.int64),
        gt_ignore_flags=np.zeros(len(boxes), bool)
        if ignore is None else np.asarray(ignore, bool))


def tile(k, box_type='hbox'):
    """Another dataset image (Mosaic tile, MixUp partner): 24x24 with two
    boxes of labels 10 + 2k and 11 + 2k."""
    return loaded(
        24,
        24, [[2, 2, 14, 12], [8, 10, 22, 22]], [10 + 2 * k, 11 + 2 * k],
        box_type,
        seed=100 + k)


def mixed(box_type='hbox'):
    """The LossMixPair output of the own and partner images at LAM."""
    transform = LossMixPair()
    transform.sample_lambda = lambda: LAM
    own = loaded(
        32,
        40,
        OWN_BOXES, [0, 1, 2],
        box_type,
        seed=1,
        ignore=[False, False, True])
    partner = loaded(24, 32, PARTNER_BOXES, [3, 4], box_type, seed=2)
    return transform(dict(own, mix_results=[partner]))


def run(cfgs, results, seed, tile_type):
    """``results`` through the transforms of ``cfgs`` under ``seed``; tiles
    (loaded with ``tile_type``) fill ``mix_results`` and the caches."""
    random.seed(seed)
    np.random.seed(seed)
    for cfg in cfgs:
        transform = TRANSFORMS.build(copy.deepcopy(cfg))
        if cfg['type'] in ('Mosaic', 'MixUp'):
            num = 3 if cfg['type'] == 'Mosaic' else 1
            results['mix_results'] = [tile(k, tile_type) for k in range(num)]
        elif cfg['type'].startswith('Cached'):
            for k in range(5):  # the cache holds other images first
                transform(tile(k, tile_type))
        results = transform(results)
        results.pop('mix_results', None)
    return results


def run_both(cfgs, seed, tile_type='lossmix_hbox'):
    """Packed LossMix run and packed stock run of the same sample."""
    ours = run(cfgs, mixed(), seed, tile_type)
    assert type(ours['gt_bboxes']) is LossMixBoxes
    stock = mixed()
    stock['gt_bboxes'] = stock['gt_bboxes'].to_hbox().clone()
    stock = run(cfgs, stock, seed, 'hbox')
    assert type(stock['gt_bboxes']) is HorizontalBoxes
    return PackLossMixInputs()(ours), PackDetInputs()(stock)


def check_against_stock(ours, stock):
    """Same pixels, boxes and labels as stock; each box its source's
    weight and group. Returns the labels of the packed gts."""
    assert torch.equal(ours['inputs'], stock['inputs'])
    for key in ('gt_instances', 'ignored_instances'):
        gt = ours['data_samples'].get(key)
        ref = stock['data_samples'].get(key)
        assert type(gt.bboxes) is HorizontalBoxes
        torch.testing.assert_close(
            gt.bboxes.tensor, ref.bboxes.tensor, rtol=0, atol=0)
        labels = gt.labels.tolist()
        assert labels == ref.labels.tolist()
        # w = c * v: the source's coefficient times the visible share
        assert ((gt.visible > 0) & (gt.visible <= 1)).all()
        assert gt.loss_weights.tolist() == [
            np.float32(WEIGHTS.get(k, 1.0)) * v
            for k, v in zip(labels, gt.visible.numpy())
        ]
        assert gt.mix_group.tolist() == [GROUPS.get(k, 0) for k in labels]
        assert 'reg_weights' not in gt
    return ours['data_samples'].gt_instances.labels.tolist()


# (name, transforms after LossMixPair), arguments as in mmdet's configs
TRANSFORM_CASES = [
    ('Resize', [dict(type='Resize', scale=(20, 16), keep_ratio=True)]),
    ('RandomResize', [
        dict(
            type='RandomResize',
            scale=(80, 64),
            ratio_range=(0.1, 2.0),
            keep_ratio=True)
    ]),
    ('RandomFlip', [dict(type='RandomFlip', prob=0.5)]),
    ('RandomCrop', [dict(type='RandomCrop', crop_size=(20, 20))]),
    ('RandomCrop-dino', [
        dict(
            type='RandomCrop',
            crop_type='absolute_range',
            crop_size=(12, 20),
            allow_negative_crop=True)
    ]),
    ('RandomAffine', [
        dict(
            type='RandomAffine', scaling_ratio_range=(0.1, 2), border=(-8, -8))
    ]),
    ('MinIoURandomCrop', [
        dict(
            type='MinIoURandomCrop',
            min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
            min_crop_size=0.3)
    ]),
    ('FilterAnnotations',
     [dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1),
           keep_empty=False)]),
    ('Pad',
     [dict(type='Pad', size=(48, 48), pad_val=dict(img=(114, 114, 114)))]),
    ('Pad-square', [
        dict(
            type='Pad',
            pad_to_square=True,
            pad_val=dict(img=(114.0, 114.0, 114.0)))
    ]),
    ('YOLOXHSVRandomAug', [dict(type='YOLOXHSVRandomAug')]),
    ('Mosaic', [dict(type='Mosaic', img_scale=(32, 32), pad_val=114.0)]),
    ('CachedMosaic',
     [dict(type='CachedMosaic', img_scale=(32, 32), pad_val=114.0)]),
    ('MixUp', [
        dict(
            type='MixUp',
            img_scale=(32, 32),
            ratio_range=(0.8, 1.6),
            pad_val=114.0)
    ]),
    ('CachedMixUp', [
        dict(
            type='CachedMixUp',
            img_scale=(32, 32),
            ratio_range=(1.0, 1.0),
            max_cached_images=20,
            pad_val=(114, 114, 114))
    ]),
]
# the train pipelines of mmdet's RTMDet, YOLOX and DINO configs after
# loading, LossMixPair first
PIPELINES = [
    ('rtmdet', [
        dict(type='CachedMosaic', img_scale=(32, 32), pad_val=114.0),
        dict(
            type='RandomResize',
            scale=(64, 64),
            ratio_range=(0.1, 2.0),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=(32, 32)),
        dict(type='YOLOXHSVRandomAug'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='Pad', size=(32, 32), pad_val=dict(img=(114, 114, 114))),
        dict(
            type='CachedMixUp',
            img_scale=(32, 32),
            ratio_range=(1.0, 1.0),
            max_cached_images=20,
            pad_val=(114, 114, 114)),
    ]),
    ('yolox', [
        dict(type='Mosaic', img_scale=(32, 32), pad_val=114.0),
        dict(
            type='RandomAffine',
            scaling_ratio_range=(0.1, 2),
            border=(-16, -16)),
        dict(
            type='MixUp',
            img_scale=(32, 32),
            ratio_range=(0.8, 1.6),
            pad_val=114.0),
        dict(type='YOLOXHSVRandomAug'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='Resize', scale=(32, 32), keep_ratio=True),
        dict(
            type='Pad',
            pad_to_square=True,
            pad_val=dict(img=(114.0, 114.0, 114.0))),
        dict(
            type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    ]),
    ('dino', [
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='RandomResize',
            scale=(40, 24),
            ratio_range=(0.5, 1.0),
            keep_ratio=True),
        dict(
            type='RandomCrop',
            crop_type='absolute_range',
            crop_size=(12, 20),
            allow_negative_crop=True),
    ]),
]
SEEDS = range(6)


@pytest.mark.parametrize(
    'name,cfgs', TRANSFORM_CASES, ids=[c[0] for c in TRANSFORM_CASES])
def test_fields_follow_boxes_through_transform(name, cfgs):
    kept = [check_against_stock(*run_both(cfgs, seed)) for seed in SEEDS]
    if name in ('RandomCrop', 'RandomCrop-dino', 'RandomAffine',
                'MinIoURandomCrop'):
        # the seeds really drop and move boxes
        assert any(len(k) < 4 for k in kept), kept
    if name in ('Mosaic', 'CachedMosaic', 'MixUp', 'CachedMixUp'):
        # and paste other images' boxes in, at weight 1
        assert any(max(k, default=0) >= 10 for k in kept), kept


@pytest.mark.parametrize('name,cfgs', PIPELINES, ids=[c[0] for c in PIPELINES])
def test_fields_follow_boxes_through_config_pipelines(name, cfgs):
    for seed in SEEDS:
        check_against_stock(*run_both(cfgs, seed))


def test_crop_that_drops_a_box_keeps_the_others_weights():
    """RandomCrop of h x w 32 x 24 at (x, y) offset (16, 0) of the 32x40
    canvas: own box 0 ([2, 2, 12, 10]) and partner box 3 ([5, 5, 13, 13] on
    the canvas) lie left of it and are dropped; the others are cut to the
    crop and keep their weights, in order."""
    crop = TRANSFORMS.build(dict(type='RandomCrop', crop_size=(24, 32)))
    crop._rand_offset = lambda margin: (0, 16)
    packed = PackLossMixInputs()(crop(mixed()))
    gt = packed['data_samples'].gt_instances
    assert gt.labels.tolist() == [1, 4]
    # own box 1 [20, 4, 38, 16], partner box 4 [18, 14, 34, 26] on the
    # canvas, moved by -16 in x, clipped to 24 wide
    np.testing.assert_allclose(gt.bboxes.numpy(),
                               [[4, 4, 22, 16], [2, 14, 18, 26]])
    # both whole inside the crop: visible 1, weights lam and 1 - lam
    assert gt.visible.tolist() == [1, 1]
    assert gt.loss_weights.tolist() == [LAM, 1 - LAM]
    assert gt.mix_group.tolist() == [0, 1]
    ignored = packed['data_samples'].ignored_instances
    assert ignored.labels.tolist() == [2]
    # own box 2 [6, 18, 30, 30] (24 x 12) cut to [0, 18, 14, 30] (14 x 12)
    np.testing.assert_allclose(ignored.bboxes.numpy(), [[0, 18, 14, 30]])
    np.testing.assert_allclose(ignored.visible.numpy(), [14 / 24])
    np.testing.assert_allclose(ignored.loss_weights.numpy(), [LAM * 14 / 24])


def test_mosaic_tiles_weigh_one():
    """The LossMix sample as Mosaic's tile 0: its boxes keep lam and
    1 - lam, the three tiles' boxes (loaded as plain boxes) weigh 1."""
    mosaic = TRANSFORMS.build(
        dict(
            type='Mosaic',
            img_scale=(32, 32),
            center_ratio_range=(1.0, 1.0),
            pad_val=114.0))
    results = mixed()
    results['mix_results'] = [tile(k) for k in range(3)]
    random.seed(0)
    np.random.seed(0)
    out = mosaic(results)
    assert type(out['gt_bboxes']) is LossMixBoxes
    gt = PackLossMixInputs()(out)['data_samples'].gt_instances
    # centre (32, 32) of the 64x64 canvas: every tile fits whole
    assert gt.labels.tolist() == [0, 1, 3, 4, 10, 11, 12, 13, 14, 15]
    np.testing.assert_allclose(gt.loss_weights.numpy(),
                               [LAM] * 2 + [1 - LAM] * 2 + [1.0] * 6)
    assert gt.mix_group.tolist() == [0, 0, 1, 1] + [0] * 6


@pytest.mark.parametrize('partner_type', ['hbox', 'lossmix_hbox'])
def test_mixup_partner_loaded_as_lossmix_boxes_weighs_one(partner_type):
    """mmdet's MixUp concatenates on the partner's box type: a partner
    loaded with box_type='lossmix_hbox' keeps the fields (its boxes weigh
    1); a plain one loses them, and packing says how to load it."""
    mixup = TRANSFORMS.build(
        dict(
            type='MixUp',
            img_scale=(32, 32),
            ratio_range=(1.0, 1.0),
            flip_ratio=0.0,
            pad_val=114.0))
    results = mixed()
    results['mix_results'] = [tile(0, partner_type)]
    random.seed(0)
    np.random.seed(0)
    out = mixup(results)
    if partner_type == 'hbox':
        assert type(out['gt_bboxes']) is HorizontalBoxes
        with pytest.raises(ValueError, match="box_type='lossmix_hbox'"):
            PackLossMixInputs()(out)
        return
    gt = PackLossMixInputs()(out)['data_samples'].gt_instances
    assert gt.labels.tolist()[:2] == [0, 1] and 10 in gt.labels.tolist()
    expected = [WEIGHTS.get(k, 1.0) for k in gt.labels.tolist()]
    np.testing.assert_allclose(gt.loss_weights.numpy(), expected)
    assert gt.loss_weights.tolist()[-2:] == [1.0, 1.0]


def test_transform_that_rebuilds_boxes_raises_at_packing():
    """RandomErasing builds new plain boxes: the weights are gone, and
    packing says so rather than weighting every box 1."""
    erase = TRANSFORMS.build(
        dict(type='RandomErasing', n_patches=1, ratio=0.1))
    random.seed(0)
    np.random.seed(0)
    out = erase(mixed())
    assert type(out['gt_bboxes']) is HorizontalBoxes
    with pytest.raises(
            ValueError,
            match=r'replaced its LossMixBoxes by '
            r'plain boxes.*RandomErasing'):
        PackLossMixInputs()(out)


def test_multi_image_mix_dataset_with_lossmix_hbox_loading():
    """The config way: every image loaded with
    LoadAnnotations(box_type='lossmix_hbox') in the dataset wrapped by
    MultiImageMixDataset (which deep-copies every result), LossMixPair then
    MixUp: own box lam, LossMixPair's partner 1 - lam, MixUp's partner 1."""
    from mmdet.datasets import MultiImageMixDataset
    from mmengine.dataset import BaseDataset

    class Images(BaseDataset):

        def load_data_list(self):
            return [
                dict(
                    img_id=i,
                    img_path=f'{i}.png',
                    instances=[
                        dict(bbox=[2, 2, 14, 12], bbox_label=i, ignore_flag=0)
                    ]) for i in range(4)
            ]

    def add_img(results):
        img = np.full((24, 24, 3), 10 * (results['img_id'] + 1), np.uint8)
        return dict(results, img=img, img_shape=(24, 24), ori_shape=(24, 24))

    inner = Images(
        pipeline=[
            add_img,
            dict(
                type='LoadAnnotations',
                with_bbox=True,
                box_type='lossmix_hbox')
        ],
        serialize_data=False)
    dataset = MultiImageMixDataset(
        inner,
        pipeline=[
            dict(type='LossMixPair'),
            dict(
                type='MixUp',
                img_scale=(24, 24),
                ratio_range=(1.0, 1.0),
                pad_val=114.0),
            dict(type='PackLossMixInputs')
        ])
    pair, mixup = dataset.pipeline[:2]
    pair.sample_lambda = lambda: LAM
    pair.get_indexes = lambda _: [2]
    mixup.get_indexes = lambda _: [3]
    random.seed(0)
    np.random.seed(0)
    sample = dataset[0]['data_samples']
    gt = sample.gt_instances
    assert type(gt.bboxes) is HorizontalBoxes
    assert gt.labels.tolist() == [0, 2, 3]
    assert gt.loss_weights.tolist() == [LAM, 1 - LAM, 1.0]
    assert gt.mix_group.tolist() == [0, 1, 0]
    assert sample.mix_lambda == LAM
