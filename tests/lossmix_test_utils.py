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
