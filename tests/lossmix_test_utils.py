"""Helpers shared by the tests (tests/ is on pytest's pythonpath)."""
import torch
from mmengine.structures import InstanceData


def make_gts(boxes, labels, weights=None):
    gt = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    if weights is not None:
        gt.loss_weights = torch.tensor(weights, dtype=torch.float32)
    return gt


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
    import glob
    import os.path as osp
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    name = 'faster-rcnn_r18_fpn_1xb4-*_toy.py' if variant == 'nomix' else \
        f'faster-rcnn_r18_fpn_{variant}_1xb4-*_toy.py'
    found = glob.glob(osp.join(root, 'configs', 'toy', name))
    if len(found) != 1:
        raise FileNotFoundError(f'one toy config {name} expected, found '
                                f'{found}')
    return found[0]
