"""Draw the mixed training samples of a config as the model trains on them.

    python tools/browse_mixed.py CONFIG --out DIR [-n 16] [--seed 0]
                                 [--ncols C] [--tile-size S] [--colors K]
                                 [--cfg-options key=value ...]

Builds the config's train dataloader (in this process, no workers) and the
model's data preprocessor, runs the preprocessor in training mode on the
collated batches -- so in-batch mixing (``BatchLossMix`` among its
``batch_augments``) happens exactly as in training -- and draws the first
``n`` samples, de-normalised, with every gt box and its loss weight
(``LossMixLocalVisualizer``: own boxes orange, partner boxes blue, the weight
after the class name -- ``w`` and the visible share ``v`` where ``v`` < 1 --,
boxes without box regression dotted, ignored instances dashed grey, and the
own image's coefficient ``lam`` at the bottom of each tile). The mixing mode
comes from the config (:func:`detect_mode`): ``pair`` (a ``LossMixPair``
in the train pipeline), ``mosaic``, ``cutmix``, ``mixup`` (region
pipelines), ``inbatch`` (``BatchLossMix`` in the data preprocessor), their
combinations or ``none``. Writes one PNG grid,
``DIR/browse_mixed_{mode}.png``, and prints its path; ``--colors 256``
makes it a palette PNG about a fifth of the size (for documentation).
"""
import argparse
import copy
import math
import os
import os.path as osp
import time
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.models.utils import mask2ndarray
from mmdet.registry import MODELS, VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import BaseBoxes
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed
from PIL import Image

import lossmix_mm  # noqa: F401

GAP = 4  # pixels between tiles and around the grid
BACKGROUND = (32, 32, 32)  # RGB of the gaps and of tiles' padding


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw mixed training samples with their loss weights')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '-n', '--num', type=int, default=16, help='samples (tiles) to draw')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of sampling and mixing')
    parser.add_argument(
        '--ncols',
        type=int,
        default=None,
        help='tiles per row (default: ceil(sqrt(n)))')
    parser.add_argument(
        '--tile-size',
        type=int,
        default=None,
        help='side of each square cell in pixels; larger tiles are scaled '
        'down (default: the largest tile\'s height and width)')
    parser.add_argument(
        '--colors',
        type=int,
        default=0,
        help='write a palette PNG of at most this many colours (Pillow\'s '
        'median cut; 2-256), much smaller; default: full colour')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_dataloader.batch_size=8')
    return parser.parse_args(argv)


def _types(node) -> Iterator[str]:
    """Every ``type`` (registry scope stripped) in a config subtree."""
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield node['type'].split('.')[-1]
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


# the dataset transforms that mix, by the mixing kind they belong to
DATASET_MIXERS = dict(
    pair=('LossMixPair', ),
    mosaic=('LossMixMosaic', 'LossMixCachedMosaic', 'Mosaic', 'CachedMosaic'),
    cutmix=('LossMixCutMix', ),
    mixup=('LossMixMixUp', 'LossMixCachedMixUp', 'MixUp', 'CachedMixUp'))
# the kinds where a tile may be mixed without a blend coefficient
REGION_KINDS = ('mosaic', 'cutmix')


def detect_mode(cfg: Config) -> str:
    """How a config mixes: the kinds it uses joined by ``'+'`` (``'pair'``,
    ``'mosaic'``, ``'pair+inbatch'``, ...) or ``'none'``.

    Dataset kinds, from the types anywhere in ``train_dataloader.dataset``:
    ``pair`` (``LossMixPair``), ``mosaic`` (a Mosaic, with the MixUp after
    it if any: YOLOX's and RTMDet's recipe), ``cutmix``
    (``LossMixCutMix``), ``mixup`` (a MixUp without a Mosaic); LossMix's
    transforms and mmdet's count alike. Then ``inbatch``: a
    ``BatchLossMix`` in ``model.data_preprocessor.batch_augments``.
    """
    types = set(_types(cfg.get('train_dataloader', {}).get('dataset', {})))
    kinds = [k for k, names in DATASET_MIXERS.items() if types & set(names)]
    if 'mosaic' in kinds and 'mixup' in kinds:
        kinds.remove('mixup')
    augments = cfg.get('model', {}).get('data_preprocessor',
                                        {}).get('batch_augments') or []
    if 'BatchLossMix' in set(_types(augments)):
        kinds.append('inbatch')
    return '+'.join(kinds) or 'none'


def denormalize(inputs: torch.Tensor,
                preprocessor: DetDataPreprocessor) -> np.ndarray:
    """(B, H, W, 3) uint8 RGB images from a preprocessed (B, C, H, W) batch.

    Undoes the normalisation (``x * std + mean``) and, if the preprocessor
    did not convert BGR to RGB, the BGR order in which mmcv loads images.
    """
    images = inputs.detach().float().cpu()
    if preprocessor._enable_normalize:
        images = images * preprocessor.std.cpu() + preprocessor.mean.cpu()
    if images.size(1) == 1:
        images = images.expand(-1, 3, -1, -1)
    elif not preprocessor._channel_conversion:
        images = images[:, [2, 1, 0]]
    images = images.round().clamp(0, 255).to(torch.uint8)
    return images.permute(0, 2, 3, 1).numpy()


def mixed_batches(
        cfg: Config, num: int,
        seed: int) -> Tuple[List[np.ndarray], List[DetDataSample], dict]:
    """The first ``num`` training samples after the data preprocessor.

    Args:
        cfg (Config): a training config (``train_dataloader``,
            ``model.data_preprocessor``).
        num (int): number of samples.
        seed (int): seed of the sampler, the pipeline and the batch augments.

    Returns:
        tuple: ``num`` (h, w, 3) RGB images cropped to each sample's
        ``img_shape``, their data samples (boxes as tensors, masks as
        (N, h, w) bool arrays) and the dataset's metainfo.
    """
    set_random_seed(seed)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader_cfg.pop('prefetch_factor', None)
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    preprocessor = MODELS.build(
        cfg.model.get('data_preprocessor', dict(type='DetDataPreprocessor')))
    if not isinstance(preprocessor, DetDataPreprocessor):
        raise TypeError('browse_mixed draws the batches of a '
                        'DetDataPreprocessor, the config has '
                        f'{type(preprocessor).__name__}')
    preprocessor.train()
    images, samples = [], []
    for batch in loader:
        with torch.no_grad():
            data = preprocessor(batch, training=True)
        batch_images = denormalize(data['inputs'], preprocessor)
        for img, sample in zip(batch_images, data['data_samples']):
            height, width = sample.img_shape[:2]
            images.append(np.ascontiguousarray(img[:height, :width]))
            samples.append(_tile_sample(sample, height, width))
            if len(images) == num:
                return images, samples, loader.dataset.metainfo
    return images, samples, loader.dataset.metainfo


def _tile_sample(sample: DetDataSample, height: int,
                 width: int) -> DetDataSample:
    """The sample with plain tensor boxes and masks cut to its image, in
    its gt and its ignored instances."""
    sample = sample.cpu()
    for key in ('gt_instances', 'ignored_instances'):
        if key not in sample:
            continue
        instances = sample.get(key)
        if isinstance(instances.get('bboxes'), BaseBoxes):
            instances.bboxes = instances.bboxes.tensor
        if 'masks' in instances:
            masks = mask2ndarray(instances.masks).astype(bool)
            out = np.zeros((len(masks), height, width), bool)
            h, w = min(height, masks.shape[1]), min(width, masks.shape[2])
            out[:, :h, :w] = masks[:, :h, :w]
            instances.masks = out
    return sample


def draw_tile(visualizer,
              image: np.ndarray,
              sample: DetDataSample,
              unblended: str = 'unmixed') -> np.ndarray:
    """One (h, w, 3) RGB tile: the sample's gts (and ignored instances)
    with their weights and, at the bottom, ``lam`` of its own image.

    Args:
        visualizer (LossMixLocalVisualizer): draws the gts.
        image (np.ndarray): (h, w, 3) RGB image.
        sample (DetDataSample): its data sample.
        unblended (str): the caption of a tile not blended (no
            ``mix_lambda`` in its metainfo, or 1).

    Returns:
        np.ndarray: the drawn (h, w, 3) RGB tile.
    """
    visualizer.add_datasample(
        'tile', image, sample, draw_pred=False, show=False)
    lam = float(sample.metainfo.get('mix_lambda', 1.0))
    caption = unblended if lam >= 1.0 else f'lam {lam:.2f}'
    visualizer.draw_texts(
        caption,
        np.array([2.0, image.shape[0] - 2.0]),
        colors='white',
        font_sizes=8,
        vertical_alignments='bottom',
        bboxes=[{
            'facecolor': 'black',
            'alpha': 0.7,
            'pad': 0.5,
            'edgecolor': 'none'
        }])
    return visualizer.get_image()


def make_grid(tiles: Sequence[np.ndarray],
              ncols: Optional[int] = None,
              tile_size: Optional[int] = None,
              gap: int = GAP) -> np.ndarray:
    """Tiles in rows of ``ncols``, each centred in a cell, ``gap`` pixels
    between and around cells.

    Args:
        tiles (Sequence[np.ndarray]): (h, w, 3) uint8 RGB images.
        ncols (int, optional): cells per row; ``ceil(sqrt(len(tiles)))`` by
            default.
        tile_size (int, optional): cells of ``tile_size`` x ``tile_size``,
            larger tiles scaled down to fit (aspect ratio kept); by default a
            cell is the largest tile height x the largest tile width.
        gap (int): pixels between and around cells.

    Returns:
        np.ndarray: (rows * (cell_h + gap) + gap, ncols * (cell_w + gap) +
        gap, 3) uint8 RGB grid, rows = ceil(len(tiles) / ncols).
    """
    if not tiles:
        raise ValueError('no tiles to put in a grid')
    ncols = ncols or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / ncols)
    if tile_size:
        cell_h = cell_w = int(tile_size)
    else:
        cell_h = max(t.shape[0] for t in tiles)
        cell_w = max(t.shape[1] for t in tiles)
    grid = np.empty(
        (rows * (cell_h + gap) + gap, ncols * (cell_w + gap) + gap, 3),
        np.uint8)
    grid[:] = BACKGROUND
    for k, tile in enumerate(tiles):
        scale = min(1.0, cell_h / tile.shape[0], cell_w / tile.shape[1])
        if scale < 1.0:
            tile = mmcv.imrescale(tile, scale, interpolation='area')
        h, w = tile.shape[:2]
        top = gap + (k // ncols) * (cell_h + gap) + (cell_h - h) // 2
        left = gap + (k % ncols) * (cell_w + gap) + (cell_w - w) // 2
        grid[top:top + h, left:left + w] = tile
    return grid


def write_png(image: np.ndarray, path: str, colors: int = 0) -> None:
    """Write an (H, W, 3) RGB image as a PNG, with a palette of at most
    ``colors`` colours when ``colors`` > 0."""
    if colors:
        Image.fromarray(image).quantize(
            colors=colors, method=Image.Quantize.MEDIANCUT).save(
                path, optimize=True)
    else:
        mmcv.imwrite(
            image[..., ::-1], path, params=[cv2.IMWRITE_PNG_COMPRESSION, 9])


def main(argv=None) -> str:
    """Run the tool; returns the path of the written grid."""
    args = parse_args(argv)
    if args.num < 1:
        raise ValueError(f'-n must be positive, got {args.num}')
    if args.colors and not 2 <= args.colors <= 256:
        raise ValueError(f'--colors must be in [2, 256], got {args.colors}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    mode = detect_mode(cfg)

    images, samples, metainfo = mixed_batches(cfg, args.num, args.seed)
    visualizer = VISUALIZERS.build(
        ConfigDict(
            type='LossMixLocalVisualizer',
            name=f'browse_mixed_{os.getpid()}_{time.time_ns()}'))
    visualizer.dataset_meta = metainfo
    # a Mosaic or CutMix tile without a MixUp blend is still mixed
    region = any(k in mode.split('+') for k in REGION_KINDS)
    unblended = 'no blend' if region else 'unmixed'
    tiles = [
        draw_tile(visualizer, img, s, unblended)
        for img, s in zip(images, samples)
    ]
    grid = make_grid(tiles, args.ncols, args.tile_size)

    os.makedirs(args.out, exist_ok=True)
    out_file = osp.join(args.out, f'browse_mixed_{mode}.png')
    write_png(grid, out_file, args.colors)
    note = '' if mode != 'none' else ' (the config does not mix)'
    print(f'{len(tiles)} {mode} samples{note} -> {out_file}')
    return out_file


if __name__ == '__main__':
    main()
