import copy

import pytest
import torch
from mmengine.hub import get_config
from mmengine.structures import InstanceData

from mmdet.utils import register_all_modules

import lossmix_mm  # noqa: F401

register_all_modules()


@pytest.fixture(scope='session')
def frcnn_cfg():
    """mmdet's Faster R-CNN R50-FPN settings with tiny channels."""
    cfg = get_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py')
    model = copy.deepcopy(cfg.model)
    model.rpn_head.update(in_channels=8, feat_channels=8)
    model.roi_head.bbox_roi_extractor.out_channels = 8
    model.roi_head.bbox_head.update(
        in_channels=8, fc_out_channels=16, num_classes=3)
    return model


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
