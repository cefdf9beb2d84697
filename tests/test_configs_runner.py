"""Every shipped LossMix config selects LossMixRunner (safe checkpoint
loading, the Union guard), itself or through its bases."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.registry import RUNNERS

import lossmix_mm  # noqa: F401  (registers LossMixRunner)
from lossmix_mm.engine import LossMixRunner
from lossmix_test_utils import base_files, load, top_level_value

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', folder, '*.py'))
    for folder in ('lossmix', 'lossmix_da', 'toy'))
CONFIGS = [path for paths in CONFIGS for path in paths]
RUNNER_TYPE = 'mmdet.LossMixRunner'


def runner_type(path):
    """The ``runner_type`` a config gets: its own, else its last base's
    that has one (mmengine's merge order), read without running files."""
    node = top_level_value(path, 'runner_type')
    if node is not None:
        return ast.literal_eval(node)
    found = None
    for base in base_files(path):
        if base.startswith('mmdet::'):
            continue  # mmdet's configs set no runner_type
        value = runner_type(osp.normpath(osp.join(osp.dirname(path), base)))
        found = value if value is not None else found
    return found


def test_configs_found():
    assert len(CONFIGS) > 90


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_selects_lossmix_runner(path):
    assert runner_type(path) == RUNNER_TYPE


@pytest.mark.parametrize('name', [
    'lossmix/faster-rcnn_r101_fpn_lossmix-pair_8xb8-18k_voc0712.py',
    'lossmix_da/mixed-teacher_faster-rcnn_r101-caffe_c4_noise_'
    '4xb2+2-60k_voc0712-watercolor2k.py',
    'toy/faster-rcnn_r18_fpn_lossmix-exact_1xb4-800it_toy.py',
    'lossmix/rtmdet_s_lossmix_8xb32-300e_coco.py',
])
def test_parsed_config_finds_the_runner(name):
    """The deepest chains, parsed: mmdet's tools build the runner from the
    root registry (``mim train``), where the scope prefix finds it."""
    cfg = load(osp.join(REPO, 'configs', name))
    assert cfg.runner_type == RUNNER_TYPE
    assert RUNNERS.get(cfg.runner_type) is LossMixRunner
