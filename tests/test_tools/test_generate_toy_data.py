"""Tests of tools/generate_toy_data.py and of the toy dataset configs."""
import importlib.util
import json
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
NUM_TRAIN, NUM_VAL = 6, 4


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'generate_toy_data', REPO / 'tools' / 'generate_toy_data.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_tool()


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy'))
    info = gen.generate(root, seed=0, num_train=NUM_TRAIN, num_val=NUM_VAL)
    assert info['generated']
    return root


def _read(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json'), 'rb') as f:
        return f.read()


def _images(root, split):
    coco = json.loads(_read(root, split))
    return [
        cv2.imread(
            osp.join(root, split, im['file_name']), cv2.IMREAD_UNCHANGED)
        for im in coco['images']
    ]


def test_same_seed_same_dataset(toy_root, tmp_path):
    other = str(tmp_path / 'again')
    gen.generate(other, seed=0, num_train=NUM_TRAIN, num_val=NUM_VAL)
    for split in gen.SPLITS:
        assert _read(toy_root, split) == _read(other, split)
        for a, b in zip(_images(toy_root, split), _images(other, split)):
            np.testing.assert_array_equal(a, b)


def test_other_seed_other_dataset(toy_root, tmp_path):
    other = str(tmp_path / 'seed1')
    gen.generate(other, seed=1, num_train=NUM_TRAIN, num_val=NUM_VAL)
    assert _read(toy_root, 'train') != _read(other, 'train')
    a, b = _images(toy_root, 'train')[0], _images(other, 'train')[0]
    assert a.shape != b.shape or not np.array_equal(a, b)


@pytest.mark.parametrize('split,num', [('train', NUM_TRAIN), ('val', NUM_VAL)])
def test_annotations_valid(toy_root, split, num):
    coco = json.loads(_read(toy_root, split))
    assert [c['name'] for c in coco['categories']] == list(gen.CLASSES)
    cat_ids = {c['id'] for c in coco['categories']}
    assert len(coco['images']) == num
    images = {im['id']: im for im in coco['images']}
    assert len(images) == num
    ann_ids = [a['id'] for a in coco['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    per_image = {i: 0 for i in images}
    for ann in coco['annotations']:
        im = images[ann['image_id']]
        x, y, w, h = ann['bbox']
        assert w > 0 and h > 0 and ann['area'] > 0
        assert x >= 0 and y >= 0
        assert x + w <= im['width'] and y + h <= im['height']
        assert ann['category_id'] in cat_ids
        assert ann['iscrowd'] == 0
        per_image[ann['image_id']] += 1
    assert all(1 <= n <= 4 for n in per_image.values()), per_image
    for im in coco['images']:
        img = cv2.imread(osp.join(toy_root, split, im['file_name']))
        assert img.shape == (im['height'], im['width'], 3)
        assert 192 <= im['width'] <= 256 and 192 <= im['height'] <= 256


@pytest.mark.parametrize('fill', ['solid', 'shaded', 'outline'])
def test_boxes_are_tight(fill):
    """On a flat background the box is exactly the extent of the shape."""
    style = gen.Style(
        'plain',
        max_objects=1,
        backgrounds=('flat', ),
        fills=(fill, ),
        clutter=0.0,
        pixel_noise=(0.0, 0.0),
        blur_prob=0.0)
    for index in range(6):
        img, objects = gen.render_image(
            gen.image_rng(0, 'plain', 'train', index), style)
        (_, (x0, y0, x1, y1), _), = objects
        ys, xs = np.nonzero((img != img[0, 0]).any(-1))
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1,
                                                                    y1)


def test_skip_if_exists_and_force(tmp_path):
    root = str(tmp_path / 'toy')
    assert gen.generate(root, seed=3, num_train=3, num_val=2)['generated']
    ann = osp.join(root, 'annotations', 'train.json')
    stamp = os.stat(ann).st_mtime_ns
    os.utime(ann, ns=(stamp - 10**9, stamp - 10**9))
    stamp = os.stat(ann).st_mtime_ns
    info = gen.generate(root, seed=3, num_train=3, num_val=2)
    assert not info['generated']
    assert os.stat(ann).st_mtime_ns == stamp
    assert gen.generate(
        root, seed=3, num_train=3, num_val=2, force=True)['generated']
    # other parameters: regenerated, no stale images of the bigger set
    assert gen.generate(root, seed=3, num_train=2, num_val=2)['generated']
    assert sorted(os.listdir(osp.join(
        root, 'train'))) == ['000000.png', '000001.png']
    with open(osp.join(root, 'meta.json')) as f:
        assert json.load(f)['num_train'] == 2


def test_unknown_style(tmp_path):
    with pytest.raises(ValueError, match='style'):
        gen.generate(str(tmp_path), num_train=1, num_val=1, style='nope')


def test_cli(tmp_path):
    root = str(tmp_path / 'cli')
    gen.main(
        ['--out', root, '--seed', '0', '--num-train', '2', '--num-val', '1'])
    with open(osp.join(root, 'meta.json')) as f:
        meta = json.load(f)
    assert (meta['num_train'], meta['num_val'], meta['style']) == (2, 1,
                                                                   'source')


def _build_dataset(cfg_path, root):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    import lossmix_mm  # noqa: F401
    cfg = Config.fromfile(str(REPO / cfg_path))
    ds_cfg = cfg.train_dataloader.dataset
    inner = ds_cfg.dataset if 'dataset' in ds_cfg else ds_cfg
    inner.data_root = root + '/'
    return DATASETS.build(ds_cfg)


def test_toy_dataset_config_loads(toy_root):
    dataset = _build_dataset('configs/_base_/datasets/toy_detection.py',
                             toy_root)
    assert dataset.metainfo['classes'] == gen.CLASSES
    assert len(dataset) == NUM_TRAIN
    sample = dataset[0]
    inputs, data_sample = sample['inputs'], sample['data_samples']
    assert inputs.shape[0] == 3 and max(inputs.shape[1:]) == 192
    assert 1 <= len(data_sample.gt_instances) <= 4
    assert 'loss_weights' not in data_sample.gt_instances


def test_lossmix_config_sample_has_loss_weights(toy_root):
    dataset = _build_dataset(
        'configs/toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py', toy_root)
    assert type(dataset).__name__ == 'MultiImageMixDataset'
    np.random.seed(0)
    sample = dataset[0]
    gt = sample['data_samples'].gt_instances
    assert 'loss_weights' in gt
    weights = gt.loss_weights
    assert weights.dtype.is_floating_point
    assert len(weights) == len(gt.bboxes) >= 1
    assert bool(((weights > 0) & (weights <= 1)).all())
    lam = sample['data_samples'].metainfo['mix_lambda']
    assert 0 <= lam <= 1


@pytest.mark.parametrize('style', ['clipart', 'clipart-hard', 'watercolor'])
def test_target_domains(tmp_path, style):
    """The target styles: same classes, valid boxes, another look."""
    src, tgt = str(tmp_path / 'src'), str(tmp_path / 'tgt')
    gen.generate(src, seed=0, num_train=4, num_val=1)
    gen.generate(tgt, seed=0, num_train=4, num_val=1, style=style)
    with open(osp.join(tgt, 'annotations', 'train.json')) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(gen.CLASSES)
    assert len(coco['annotations']) >= 4
    assert json.load(open(osp.join(tgt, 'meta.json')))['style'] == style
    for info in coco['images']:
        img = cv2.imread(osp.join(tgt, 'train', info['file_name']))
        assert img.shape[:2] == (info['height'], info['width'])
        for ann in coco['annotations']:
            if ann['image_id'] != info['id']:
                continue
            x, y, w, h = ann['bbox']
            assert 0 <= x and x + w <= info['width']
            assert 0 <= y and y + h <= info['height']
    src_img = cv2.imread(osp.join(src, 'train', '000000.png'))
    tgt_img = cv2.imread(osp.join(tgt, 'train', '000000.png'))
    assert src_img.shape != tgt_img.shape or not np.array_equal(
        src_img, tgt_img)

    if style == 'watercolor':  # pale: less saturated than the source
        saturation = [
            cv2.cvtColor(
                cv2.imread(osp.join(d, 'train', f'{k:06d}.png')),
                cv2.COLOR_BGR2HSV)[..., 1].mean() for d in (src, tgt)
            for k in range(4)
        ]
        assert max(saturation[4:]) < min(saturation[:4])
    if style != 'clipart':
        return

    # no texture: neighbouring pixels of the clipart images barely differ
    def roughness(img):
        return np.abs(np.diff(img.astype(np.float32), axis=1)).mean()

    assert roughness(tgt_img) < roughness(src_img)


# ------------------------------------------------------------------- masks
def _filled(drawn):
    """The drawn pixels with their holes filled (an outline's inside)."""
    h, w = drawn.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = drawn
    cv2.floodFill(pad, None, (0, 0), 2)
    return pad[1:-1, 1:-1] != 2


@pytest.mark.parametrize('split', ['train', 'val'])
def test_segmentation_polygons_match_boxes(toy_root, split):
    """One polygon per object; its rasterisation (pycocotools, as mmdet's
    poly2mask) and its vertices are bounded by the box within 1 px; area is
    still the box's."""
    from mmdet.structures.mask.structures import polygon_to_bitmap
    coco = json.loads(_read(toy_root, split))
    images = {im['id']: im for im in coco['images']}
    assert coco['info']['version'] == str(gen.GENERATOR_VERSION)
    for ann in coco['annotations']:
        im = images[ann['image_id']]
        x, y, w, h = ann['bbox']
        box = np.array([x, y, x + w, y + h])
        assert ann['area'] == w * h
        (poly, ) = ann['segmentation']
        assert len(poly) % 2 == 0 and len(poly) >= 6
        xy = np.array(poly).reshape(-1, 2)
        extent = [*xy.min(0), *xy.max(0)]
        np.testing.assert_allclose(extent, box, atol=1.0)
        raster = polygon_to_bitmap([np.array(poly)], im['height'], im['width'])
        ys, xs = np.nonzero(raster)
        np.testing.assert_allclose(
            [xs.min(), ys.min(),
             xs.max() + 1, ys.max() + 1], box, atol=1.0)


@pytest.mark.parametrize('fill', ['solid', 'outline'])
def test_polygon_covers_the_drawn_shape(fill):
    """On a flat background: the rasterised polygon is the drawn shape (an
    outline's silhouette), IoU >= 0.85 for every object, 0.93 on average
    (the pixels the outline passes through are half in, half out)."""
    from mmdet.structures.mask.structures import polygon_to_bitmap
    style = gen.Style(
        'plain',
        max_objects=1,
        backgrounds=('flat', ),
        fills=(fill, ),
        clutter=0.0,
        pixel_noise=(0.0, 0.0),
        blur_prob=0.0)
    ious = []
    for index in range(12):
        img, objects = gen.render_image(
            gen.image_rng(0, 'plain', 'train', index), style)
        (_, _, poly), = objects
        drawn = _filled((img != img[0, 0]).any(-1).astype(np.uint8))
        raster = polygon_to_bitmap([np.array(poly)], *img.shape[:2])
        ious.append((raster & drawn).sum() / (raster | drawn).sum())
    assert min(ious) >= 0.85 and np.mean(ious) >= 0.93, ious


@pytest.mark.parametrize('poly2mask', [True, False])
def test_coco_dataset_loads_masks(toy_root, poly2mask):
    from mmdet.datasets import CocoDataset
    from mmdet.structures.mask import BitmapMasks, PolygonMasks
    from mmdet.utils import register_all_modules
    register_all_modules()
    dataset = CocoDataset(
        data_root=toy_root + '/',
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=gen.CLASSES),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='LoadAnnotations',
                with_bbox=True,
                with_mask=True,
                poly2mask=poly2mask)
        ])
    for index in range(2):
        results = dataset[index]
        masks = results['gt_masks']
        assert isinstance(masks, BitmapMasks if poly2mask else PolygonMasks)
        assert (masks.height, masks.width) == results['img'].shape[:2]
        boxes = results['gt_bboxes'].numpy()
        assert len(masks) == len(boxes) >= 1
        np.testing.assert_allclose(
            masks.get_bboxes('hbox').numpy(), boxes, atol=1.0)


def test_pixels_and_boxes_as_before_masks():
    """Regression on version 2 (before segmentation): same pixels (crc32)
    and boxes for the first images of seed 0."""
    import zlib
    expected = [
        ((228, 217, 3), 2276423408, [(0, [9, 12, 44, 47]),
                                     (2, [96, 95, 157, 160])]),
        ((225, 219, 3), 288087439, [(0, [151, 161, 200, 210])]),
    ]
    for index, (shape, crc, objects) in enumerate(expected):
        img, got = gen.render_image(
            gen.image_rng(0, 'source', 'train', index), gen.STYLES['source'])
        assert img.shape == shape
        assert zlib.crc32(img.tobytes()) == crc
        assert [(cls, box) for cls, box, _ in got] == objects
