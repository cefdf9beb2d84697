"""The toy domain-adaptation config end to end through tools/train.py:
warmup -> switch -> adaptation without NaN, teacher and student evaluated,
and a resume in the middle of adaptation that restores the teacher, the
phase and the iteration exactly."""
import glob
import json
import math
import os.path as osp
import sys

import pytest
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from lossmix_test_utils import toy_da_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import train as train_tool  # noqa: E402

CONFIG = glob.glob(
    osp.join(ROOT, 'configs', 'toy',
             'mixed-teacher_faster-rcnn_r18_fpn_lossmix_*_toy2clipart.py'))[0]
SEEN = {}


@HOOKS.register_module(force=True)
class RecordTeacherHook(Hook):
    """Test hook: the state a (resumed) run starts from, after the
    MixingScheduleHook's before_train."""
    priority = 'LOWEST'

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        SEEN['iter'] = runner.iter
        SEEN['phase'] = model.phase
        SEEN['teacher'] = {
            k: v.clone()
            for k, v in model.teacher.state_dict().items()
        }
        SEEN['student'] = {
            k: v.clone()
            for k, v in model.student.state_dict().items()
        }


def da_options(source, target, max_iters, warmup, name):
    return toy_da_options(source, target, max_iters, warmup) + [
        # a visualizer of its own: mmengine keeps one per name per process,
        # and its scalars.json goes to the work dir of the run that made it
        f'visualizer.name={name}',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.val_interval={max_iters}',
        'default_hooks.logger.interval=1',
        'log_processor.window_size=1',  # raw values, not averages
    ]


def scalars(work_dir):
    path = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_warmup_adapt_resume(toy_root, toy_clipart_root, tmp_path, cfg_edits):
    cfg_edits.append(lambda cfg: setattr(
        cfg, 'custom_hooks', cfg.custom_hooks +
        [dict(type='RecordTeacherHook')]))
    work_dir = str(tmp_path / 'da')
    opts = da_options(
        toy_root,
        toy_clipart_root,
        max_iters=4,
        warmup=2,
        name=f'vis_{id(tmp_path)}')
    train_tool.main([CONFIG, '--work-dir', work_dir, '--cfg-options'] + opts)
    records = scalars(work_dir)
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2, 3, 4]
    for r in train:
        for key, value in r.items():
            assert math.isfinite(value), (r['iter'], key)
    # warmup: mss + nst; adaptation: mss + mtt + mst + disc
    for r in train[:2]:
        assert r['mss_loss_cls'] > 0 and r['nst_loss_cls'] > 0
        assert r['mst_loss_cls'] == 0 and r['loss_disc_src'] == 0
    for r in train[2:]:
        assert r['nst_loss_cls'] == 0
        assert r['mst_loss_cls'] > 0 and r['loss_disc_src'] > 0
        assert r['loss_disc_tgt'] > 0 and 'mtt_loss_cls' in r
    metrics = [r for r in records if 'teacher/coco/bbox_mAP' in r]
    assert metrics and 'student/coco/bbox_mAP' in metrics[-1]

    ckpt3 = osp.join(work_dir, 'iter_3.pth')
    saved = torch.load(ckpt3, weights_only=False)
    assert saved['meta']['iter'] == 3
    assert saved['meta']['mixing_schedule'] == dict(
        phase='adapt', warmup_iters=2)
    teacher = {
        k[len('teacher.'):]: v
        for k, v in saved['state_dict'].items() if k.startswith('teacher.')
    }
    student = {
        k[len('student.'):]: v
        for k, v in saved['state_dict'].items() if k.startswith('student.')
    }
    # the teacher was copied at iteration 2 and averaged once since
    assert any(not torch.equal(teacher[k], student[k]) for k in teacher)

    SEEN.clear()
    train_tool.main([
        CONFIG, '--work-dir',
        str(tmp_path / 'resumed'), '--resume', ckpt3, '--cfg-options'
    ] + opts + [f'visualizer.name=vis_{id(tmp_path)}_resumed'])
    assert SEEN['iter'] == 3 and SEEN['phase'] == 'adapt'
    assert SEEN['teacher'].keys() == teacher.keys()
    for key, value in teacher.items():
        assert torch.equal(SEEN['teacher'][key], value), key
        assert torch.equal(SEEN['student'][key], student[key]), key
    resumed = scalars(str(tmp_path / 'resumed'))
    assert [r['iter'] for r in resumed if 'loss' in r] == [4]
