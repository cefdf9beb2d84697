"""Helpers shared by the tests (tests/ is on pytest's pythonpath)."""
import ast
import copy
import glob
import os
import os.path as osp
from functools import lru_cache

import cv2
import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData

from lossmix_mm.datasets.transforms import PackLossMixInputs
import generate_toy_data


def make_gts(boxes, labels, weights=None):
    gt = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    if weights is not None:
        gt.loss_weights = torch.tensor(weights, dtype=torch.float32)
    return gt


def make_toy_domains(data_dir, num_train, num_val):
    """Tiny generated domains under ``data_dir``: ``toy`` (the source) and
    ``toy_clipart`` (the target), as tools/da_*.py find them."""
    generate_toy_data.generate(
        osp.join(data_dir, 'toy'),
        seed=0,
        num_train=num_train,
        num_val=num_val)
    generate_toy_data.generate(
        osp.join(data_dir, 'toy_clipart'),
        seed=1,
        num_train=num_train,
        num_val=num_val,
        style='clipart')


def rand_feats(seed, channels=8, size=64, strides=(4, 8, 16, 32, 64)):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(1, channels, size // s, size // s, generator=g)
        for s in strides)


def toy_options(root, max_iters, interval=2, nested=True, workers=0):
    """--cfg-options that point a toy config at a tiny dataset in ``root``
    and make it train ``max_iters`` iterations of batch 2 quickly.

    Args:
        nested (bool): the train dataset is wrapped (MultiImageMixDataset).
        workers (int): train loader workers (persistent when > 0).
    """
    root = root + '/'
    train_root = 'train_dataloader.dataset.dataset.data_root' if nested \
        else 'train_dataloader.dataset.data_root'
    return [
        f'{train_root}={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/val.json',
        f'test_evaluator.ann_file={root}annotations/val.json',
        'train_dataloader.batch_size=2',
        f'train_dataloader.num_workers={workers}',
        f'train_dataloader.persistent_workers={workers > 0}',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={interval}',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'default_hooks.checkpoint.save_best=None',
    ]


def toy_config(variant='lossmix'):
    """Path of a toy config: 'lossmix', 'union', 'nomix' or another
    variant name in configs/toy/."""
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    name = 'faster-rcnn_r18_fpn_1xb4-*_toy.py' if variant == 'nomix' else \
        f'faster-rcnn_r18_fpn_{variant}_1xb4-*_toy.py'
    found = glob.glob(osp.join(root, 'configs', 'toy', name))
    if len(found) != 1:
        raise FileNotFoundError(f'one toy config {name} expected, found '
                                f'{found}')
    return found[0]


# ---------------------------------------------- config-test helpers
IMG_W, IMG_H = 64, 48


@lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def load(path):
    """A private copy of the parsed config (parsing once per file)."""
    return copy.deepcopy(_load(path))


def top_level_value(path, name):
    """The expression assigned to ``name`` at the top of a config file (an
    ``ast`` node, read without running the file), or None."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name):
            return node.value
    return None


def base_files(path):
    """The ``_base_`` entries of a config file, read without running it."""
    node = top_level_value(path, '_base_')
    if node is not None:
        bases = ast.literal_eval(node)
        return [bases] if isinstance(bases, str) else list(bases)
    return []


def inheritance_depth(path):
    """Longest chain of ``_base_`` links above ``path`` (0: no base).

    ``mmdet::`` bases are resolved to mmdet's installed configs and count as
    a level like any other file.
    """
    depths = [0]
    for base in base_files(path):
        base_path, _ = Config._get_cfg_path(base, path)
        assert osp.isfile(base_path), f'{path}: missing base {base}'
        depths.append(1 + inheritance_depth(base_path))
    return max(depths)


def set_data_root(cfg, data_root):
    """Point every dataset (and COCO evaluator ann file) at a fixture."""

    def visit(node):
        if isinstance(node, dict):
            if 'data_root' in node:
                node['data_root'] = data_root
                # mmengine serialises annotations with a gc.collect() that
                # costs ~0.25 s per dataset here; tiny fixtures need neither
                node['serialize_data'] = False
            if node.get('type') == 'CocoMetric':
                node['ann_file'] = osp.join(
                    data_root, 'annotations/instances_val2017.json')
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        visit(cfg[key])
    return cfg


def find_transforms(cfg_node, type_name):
    return [
        v for k, v in flatten_dicts(cfg_node) if v.get('type') == type_name
    ]


def flatten_leaves(obj, prefix=''):
    """``{'a.b.0.c': leaf}`` view of nested dicts/lists."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(obj))
    else:
        return {prefix: obj}
    out = {}
    for k, v in items:
        out.update(flatten_leaves(v, f'{prefix}.{k}' if prefix else str(k)))
    return out


def flatten_dicts(node, path=''):
    """Yield (path, dict) for every dict inside ``node``."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from flatten_dicts(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from flatten_dicts(v, f'{path}.{i}')


def write_image(path, seed):
    rng = np.random.RandomState(seed)
    cv2.imwrite(path, rng.randint(0, 255, (IMG_H, IMG_W, 3), np.uint8))


VOC_XML = """<annotation>
  <folder>{year}</folder><filename>{name}.jpg</filename>
  <size><width>{w}</width><height>{h}</height><depth>3</depth></size>
  <object><name>{cls}</name><pose>Unspecified</pose><truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox><xmin>5</xmin><ymin>6</ymin><xmax>40</xmax><ymax>30</ymax></bndbox>
  </object>
  <object><name>person</name><pose>Unspecified</pose><truncated>0</truncated>
    <difficult>0</difficult>
    <bndbox><xmin>30</xmin><ymin>10</ymin><xmax>60</xmax><ymax>44</ymax></bndbox>
  </object>
</annotation>
"""


def write_voc_split(root, split, prefix, seed=0, classes=('dog', 'car')):
    """A VOC-format split under ``root`` (``JPEGImages``, ``Annotations``,
    ``ImageSets/Main/{split}.txt``): one 64x48 image per class in
    ``classes``, named ``{prefix}_{split}_{i}``, each with a box of that
    class and a 'person' box."""
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    names = [f'{prefix}_{split}_{i}' for i in range(len(classes))]
    with open(osp.join(root, 'ImageSets/Main', f'{split}.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    for i, (name, cls) in enumerate(zip(names, classes)):
        write_image(osp.join(root, 'JPEGImages', f'{name}.jpg'), seed + i)
        with open(osp.join(root, 'Annotations', f'{name}.xml'), 'w') as f:
            f.write(
                VOC_XML.format(
                    year=osp.basename(root.rstrip('/')),
                    name=name,
                    w=IMG_W,
                    h=IMG_H,
                    cls=cls))


def make_mask_gts(boxes, labels, weights=None, size=64):
    """``make_gts`` plus ``BitmapMasks``: an ellipse inscribed in each box
    on a ``size`` x ``size`` image."""
    gt = make_gts(boxes, labels, weights)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    masks = np.zeros((len(gt), size, size), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(gt.bboxes.tolist()):
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, \
            (y2 - y1) / 2
        masks[i] = ((xs - cx) / rx)**2 + ((ys - cy) / ry)**2 <= 1
    gt.masks = BitmapMasks(masks, size, size)
    return gt


def toy_da_options(source, target, max_iters, warmup):
    """``--cfg-options`` that shrink the toy DA config to the tiny generated
    domains ``source`` / ``target``: random init, ``warmup`` warmup
    iterations of ``max_iters``, a checkpoint every iteration, data in the
    main process, a pseudo-label threshold an untrained teacher reaches."""
    s, t = source + '/', target + '/'
    return [
        f'train_dataloader.dataset.datasets.0.data_root={s}',
        f'train_dataloader.dataset.datasets.1.data_root={t}',
        f'val_dataloader.dataset.data_root={t}',
        f'test_dataloader.dataset.data_root={t}',
        f'val_evaluator.ann_file={t}annotations/val.json',
        f'test_evaluator.ann_file={t}annotations/val.json',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        f'train_cfg.max_iters={max_iters}',
        f'custom_hooks.0.warmup_iters={warmup}',
        'load_from=None',  # random init (the config starts from a file)
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        # a lower threshold so that an untrained teacher yields some boxes
        'model.semi_train_cfg.cls_pseudo_thr=0.05',
    ]


# three tiny images of different sizes for the batch mixers' tests: image
# i is BATCH_SIZES[i] (h, w) with the boxes BATCH_BOXES[i]
BATCH_SIZES = [(4, 6), (2, 10), (6, 4)]
BATCH_BOXES = [[[1, 1, 3, 3]], [[0, 0, 4, 2], [5, 0, 9, 2]], []]


def batch_raw(i):
    """Loaded results of image ``i``: seeded uint8 pixels, plain boxes of
    labels 0, 1, ..."""
    h, w = BATCH_SIZES[i]
    rng = np.random.RandomState(i)
    boxes = np.array(BATCH_BOXES[i], np.float32).reshape(-1, 4)
    return dict(
        img=rng.randint(0, 255, (h, w, 3)).astype(np.uint8),
        img_id=i,
        img_path=f'{i}.png',
        ori_shape=(h, w),
        img_shape=(h, w),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        gt_bboxes=HorizontalBoxes(boxes),
        gt_bboxes_labels=np.arange(len(boxes), dtype=np.int64),
        gt_ignore_flags=np.zeros(len(boxes), dtype=bool))


def preprocess_batch(indices, **kwargs):
    """Raw samples through PackDetInputs-style packing and the stock
    DetDataPreprocessor (no normalisation, so 0 padding = black pixels)."""
    pre = MODELS.build(
        dict(type='DetDataPreprocessor', pad_size_divisor=1, **kwargs))
    packed = [PackLossMixInputs()(batch_raw(i)) for i in indices]
    data = pre(
        dict(
            inputs=[p['inputs'] for p in packed],
            data_samples=[p['data_samples'] for p in packed]), True)
    return data['inputs'], data['data_samples']
