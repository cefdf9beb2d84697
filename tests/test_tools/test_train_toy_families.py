"""The toy RetinaNet and Mask R-CNN configs (RetinaNet's region-mixing pair
too) train and evaluate end to end through tools/train.py (2 iterations on
the tiny generated dataset)."""
import glob
import json
import os.path as osp
import sys

import pytest

from lossmix_test_utils import toy_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import train as train_tool  # noqa: E402


def config(detector, variant):
    infix = '' if variant == 'nomix' else f'_{variant}'
    found = glob.glob(
        osp.join(ROOT, 'configs', 'toy',
                 f'{detector}_r18_fpn{infix}_1xb4-*_toy.py'))
    assert len(found) == 1, found
    return found[0]


def final_metrics(work_dir):
    scalars = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if 'coco/bbox_mAP' in r][-1], \
        [r for r in records if 'loss' in r]


@pytest.mark.slow
@pytest.mark.parametrize('detector,variant',
                         [('retinanet', 'nomix'), ('retinanet', 'lossmix'),
                          ('retinanet', 'lossmix-mosaic'),
                          ('retinanet', 'union-mosaic'),
                          ('retinanet', 'union-mosaic-scaled'),
                          ('mask-rcnn', 'nomix'), ('mask-rcnn', 'lossmix')])
def test_toy_family_config_trains_and_evaluates(detector, variant, toy_root,
                                                tmp_path):
    work_dir = str(tmp_path / 'work')
    nested = variant != 'nomix'
    train_tool.main([
        config(detector, variant), '--work-dir', work_dir, '--cfg-options'
    ] + toy_options(toy_root, max_iters=2, nested=nested) + [
        'default_hooks.logger.interval=1',
        # runs in the same second would share mmengine's
        # (timestamp-named) visualizer and its scalars file
        f'visualizer.name=vis_{detector}_{variant}',
        # untrained: keep every detection so that the metric
        # has results to score
        'model.test_cfg.score_thr=0.0' if detector ==
        'retinanet' else 'model.test_cfg.rcnn.score_thr=0.0'
    ])
    metrics, losses = final_metrics(work_dir)
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    if detector == 'mask-rcnn':
        assert 0.0 <= metrics['coco/segm_mAP'] <= 1.0
        assert all(r['loss_mask'] > 0 for r in losses)
    else:
        assert 'coco/segm_mAP' not in metrics
        assert all(r['loss_bbox'] > 0 for r in losses)
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
