"""tools/da_study.py: the rows' runs, the log reading, the table, and a
tiny study end to end."""
import json
import os.path as osp

import da_study
import pytest
from mmengine.config import Config, DictAction

from lossmix_test_utils import make_toy_domains


def options_dict(options):
    """``key=value`` options as mmengine's --cfg-options parses them."""
    parsed = {}
    for option in options:
        key, value = option.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def spec(row, *argv):
    args = da_study.parse_args(['--data-root', '/d', *argv])
    config, options = da_study.run_spec(row, 3, args, '/w/src.pth')
    return osp.basename(config), options_dict(options)


def test_rows_runs():
    config, opts = spec('source')
    assert config == osp.basename(da_study.SOURCE_CONFIG)
    assert opts['train_dataloader.dataset.data_root'] == '/d/toy/'
    assert opts['val_evaluator.ann_file'] == \
        '/d/toy_clipart/annotations/val.json'
    assert opts['randomness.seed'] == 3
    assert opts['param_scheduler.1.milestones'] == [900, 1125]
    _, opts = spec('source', '--source-iters', '2400')
    assert opts['train_cfg.max_iters'] == 2400
    # the config's steps at the same fractions of the longer run
    assert opts['param_scheduler.1.milestones'] == [1800, 2250]
    _, opts = spec('oracle', '--target', 'watercolor')
    assert opts['train_dataloader.dataset.data_root'] == '/d/toy_watercolor/'
    _, control = spec('control')
    assert control['load_from'] == '/w/src.pth'
    assert control['optim_wrapper.optimizer.lr'] == 0.01
    assert control['param_scheduler.1.milestones'] == [650]  # of 800
    config, at = spec('at', '--probe', '--warmup-iters', '100')
    assert 'nomix' in config and at['load_from'] == '/w/src.pth'
    assert at['train_dataloader.dataset.datasets.1.data_root'] == \
        '/d/toy_clipart/'
    assert at['custom_hooks.0.warmup_iters'] == 100
    assert at['model.domain_probe.type'] == 'ImageDomainDiscriminator'
    _, noise = spec('noise')
    assert noise['model.semi_train_cfg.nst_phases'] == ['warmup', 'adapt']
    assert noise['model.semi_train_cfg.loss_weights.nst'] == 1.0
    config, union = spec('union')
    assert 'lossmix' in config and union['model.mixer.mode'] == 'union'
    assert 'model.mixer.mode' not in spec('lossmix')[1]


@pytest.mark.parametrize('row', da_study.ROWS)
def test_every_option_names_a_config_key(row):
    config, options = da_study.run_spec(row, 0,
                                        da_study.parse_args(['--probe']),
                                        'src.pth')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options_dict(options))
    assert cfg.train_cfg.max_iters == (1200 if row in ('source',
                                                       'oracle') else 800)
    if row in da_study.TEACHER_ROWS:
        assert cfg.custom_hooks[0].type == 'MixingScheduleHook'
        assert cfg.model.domain_probe.in_channels == 64


def test_bad_arguments():
    for argv in (['--adapt-iters', '200'], ['--warmup-iters',
                                            '0'], ['--eval-interval', '0']):
        with pytest.raises(SystemExit):
            da_study.parse_args(argv)


def test_log_reading_and_table(tmp_path):
    log = tmp_path / 'run' / '20261208' / 'vis_data'
    log.mkdir(parents=True)
    records = [
        {
            'step': 1,
            'pseudo_recall@0.8': 0.2,
            'probe_acc': 0.9,
            'mtt_acc': 1
        },
        {
            'step': 2,
            'pseudo_recall@0.8': 0.4,
            'probe_acc': 0.7
        },
        {
            'step': 2,
            'teacher/coco/bbox_mAP_50': 0.5,
            'student/coco/bbox_mAP_50': 0.6
        },
        {
            'step': 3,
            'pseudo_recall@0.8': 1.0
        },
        {
            'step': 4,
            'teacher/coco/bbox_mAP_50': 0.55,
            'student/coco/bbox_mAP_50': 0.52
        },
    ]
    (log / 'scalars.json').write_text('\n'.join(map(json.dumps, records)))
    read = da_study.read_log(str(tmp_path / 'run'), 2, 3)
    assert [e['step'] for e in read['evals']] == [2, 3]
    assert read['diagnostics'][0] == pytest.approx({
        'pseudo_recall@0.8': 0.3,
        'probe_acc': 0.8,
        'step': 2
    })
    assert read['diagnostics'][1] == {'pseudo_recall@0.8': 1.0, 'step': 3}
    assert da_study.final_ap50(read['evals']) == dict(
        teacher=0.55, student=0.52)
    results = {
        'control/seed0': dict(final=dict(model=0.5)),
        'control/seed1': dict(final=dict(model=0.4)),
        'lossmix/seed0': dict(final=dict(teacher=0.55, student=0.6)),
        'lossmix/seed1': dict(final=dict(teacher=0.5, student=0.3)),
    }
    args = da_study.parse_args(
        ['--rows', 'control', 'lossmix', '--seeds', '0', '1'])
    lines = da_study.table(args, results).splitlines()
    assert lines[2] == '| control | 0.450 +- 0.071 | 0.500, 0.400 | ' \
        '+0.000, +0.000 |'
    # the better of teacher and student, minus the control of its seed
    assert lines[3] == '| lossmix | 0.550 +- 0.071 | 0.600, 0.500 | ' \
        '+0.100, +0.100 |'


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path):
    data = tmp_path / 'data'
    make_toy_domains(str(data), num_train=6, num_val=2)
    loaders = [
        f'{loader}.{key}={value}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
        for key, value in (('num_workers', 0), ('persistent_workers', False))
    ]
    argv = [
        '--rows', 'source', 'control', 'lossmix', '--seeds', '0',
        '--source-iters', '2', '--adapt-iters', '2', '--warmup-iters', '1',
        '--eval-interval', '1', '--probe', '--data-root',
        str(data), '--work-root',
        str(tmp_path / 'work'), '--out',
        str(tmp_path / 'table.md'), '--cfg-options'
    ] + loaders + [
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.logger.interval=1'
    ]
    results = da_study.main(argv)
    assert set(results) == {'source/seed0', 'control/seed0', 'lossmix/seed0'}
    evals = results['lossmix/seed0']['evals']
    assert [e['step'] for e in evals] == [1, 2]  # every iteration
    assert set(results['lossmix/seed0']['final']) == {'teacher', 'student'}
    # the adaptation iteration logged the diagnostics
    assert 'probe_acc' in results['lossmix/seed0']['diagnostics'][1]
    saved = json.loads((tmp_path / 'work' / 'results.json').read_text())
    assert saved == results
    # a second call trains nothing: every run is in the results
    before = osp.getmtime(tmp_path / 'work' / 'results.json')
    da_study.main(argv)
    assert osp.getmtime(tmp_path / 'work' / 'results.json') == before
    assert (tmp_path / 'table.md').read_text().count('\n') == 5
