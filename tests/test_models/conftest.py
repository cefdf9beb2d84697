import copy

import pytest
from mmdet.utils import register_all_modules
from mmengine.hub import get_config

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
