"""tools/slurm_train.sh and tools/slurm_test.sh: the exact srun command
they form (a stand-in ``srun`` on PATH records its argv and environment),
that tools/train.py and tools/test.py accept it, and their usage errors."""
import os
import os.path as osp
import stat
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import test as test_tool  # noqa: E402
import train as train_tool  # noqa: E402

TRAIN_SH = osp.join(ROOT, 'tools', 'slurm_train.sh')
TEST_SH = osp.join(ROOT, 'tools', 'slurm_test.sh')
SLURM_ENV = ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'PYTHON')


@pytest.fixture
def fake_srun(tmp_path):
    """A ``srun`` that writes its argv (NUL-separated) and PYTHONPATH to
    files in tmp_path and exits 0; returns (PATH-like bin dir, reader)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    argv_file, env_file = tmp_path / 'argv', tmp_path / 'pythonpath'
    srun = bin_dir / 'srun'
    srun.write_text('#!/bin/sh\n'
                    f'printf "%s\\0" "$@" > "{argv_file}"\n'
                    f'printf "%s" "$PYTHONPATH" > "{env_file}"\n'
                    'exit 0\n')
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)

    def read():
        argv = argv_file.read_bytes().split(b'\0')[:-1]
        return [a.decode() for a in argv], env_file.read_text()

    return str(bin_dir), read


def _run(script, args, bin_dir=None, **env):
    base = {k: v for k, v in os.environ.items() if k not in SLURM_ENV}
    base['PYTHONPATH'] = '/some/where'
    if bin_dir is not None:
        base['PATH'] = bin_dir + os.pathsep + base['PATH']
    else:  # no srun anywhere
        base['PATH'] = '/usr/bin:/bin'
    return subprocess.run(
        ['bash', script] + args,
        env=dict(base, **env),
        capture_output=True,
        text=True,
        timeout=60)


def test_train_argv(fake_srun):
    bin_dir, read = fake_srun
    proc = _run(
        TRAIN_SH, [
            'gpu-part', 'lossmix', 'configs/a.py', 'work_dirs/a',
            '--cfg-options', 'a=1', 'work_dir=x y', '--amp'
        ],
        bin_dir,
        GPUS='16',
        GPUS_PER_NODE='8',
        CPUS_PER_TASK='4',
        SRUN_ARGS='--time=24:00:00  --qos=high')
    assert proc.returncode == 0, proc.stderr
    argv, pythonpath = read()
    assert argv == [
        '--partition=gpu-part', '--job-name=lossmix', '--gres=gpu:8',
        '--ntasks=16', '--ntasks-per-node=8', '--cpus-per-task=4',
        '--kill-on-bad-exit=1', '--time=24:00:00', '--qos=high', 'python',
        '-u',
        osp.join(ROOT, 'tools',
                 'train.py'), 'configs/a.py', '--work-dir=work_dirs/a',
        '--launcher=slurm', '--cfg-options', 'a=1', 'work_dir=x y', '--amp'
    ]
    # the repo root first, the caller's PYTHONPATH kept
    assert pythonpath == ROOT + ':/some/where'
    # what each task runs is a valid tools/train.py command line
    args = train_tool.parse_args(argv[argv.index('-u') + 2:])
    assert args.launcher == 'slurm'
    assert (args.config, args.work_dir, args.amp) == ('configs/a.py',
                                                      'work_dirs/a', True)
    # (mmengine's DictAction drops the blanks inside a value: 'x y' -> 'xy';
    # the script did keep it one argument, above)
    assert args.cfg_options == {'a': 1, 'work_dir': 'xy'}


def test_train_defaults(fake_srun):
    bin_dir, read = fake_srun
    # GPUS=8, GPUS_PER_NODE=min(GPUS, 8), CPUS_PER_TASK=5, no SRUN_ARGS
    assert _run(TRAIN_SH, ['p', 'j', 'c.py', 'w'], bin_dir).returncode == 0
    argv, _ = read()
    assert argv[:7] == [
        '--partition=p', '--job-name=j', '--gres=gpu:8', '--ntasks=8',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1'
    ]
    assert argv[7:] == [
        'python', '-u',
        osp.join(ROOT, 'tools', 'train.py'), 'c.py', '--work-dir=w',
        '--launcher=slurm'
    ]
    # fewer than 8 GPUs: one node with that many
    assert _run(
        TRAIN_SH, ['p', 'j', 'c.py', 'w'],
        bin_dir,
        GPUS='2',
        PYTHON='/opt/py/bin/python').returncode == 0
    argv, _ = read()
    assert argv[2:5] == ['--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2']
    assert argv[7] == '/opt/py/bin/python'


def test_test_argv(fake_srun):
    bin_dir, read = fake_srun
    proc = _run(
        TEST_SH, [
            'p', 'eval', 'configs/a.py', 'work_dirs/a/iter_100.pth', '--out',
            'r.pkl', '--cfg-options', 'test_dataloader.batch_size=2'
        ],
        bin_dir,
        GPUS='4',
        CPUS_PER_TASK='2',
        SRUN_ARGS='-x node7')
    assert proc.returncode == 0, proc.stderr
    argv, pythonpath = read()
    assert argv == [
        '--partition=p', '--job-name=eval', '--gres=gpu:4', '--ntasks=4',
        '--ntasks-per-node=4', '--cpus-per-task=2', '--kill-on-bad-exit=1',
        '-x', 'node7', 'python', '-u',
        osp.join(ROOT, 'tools', 'test.py'), 'configs/a.py',
        'work_dirs/a/iter_100.pth', '--launcher=slurm', '--out', 'r.pkl',
        '--cfg-options', 'test_dataloader.batch_size=2'
    ]
    assert pythonpath == ROOT + ':/some/where'
    args = test_tool.parse_args(argv[argv.index('-u') + 2:])
    assert (args.launcher, args.checkpoint,
            args.out) == ('slurm', 'work_dirs/a/iter_100.pth', 'r.pkl')
    assert args.cfg_options == {'test_dataloader.batch_size': 2}


@pytest.mark.parametrize('script', [TRAIN_SH, TEST_SH])
def test_usage_errors(fake_srun, script):
    bin_dir, _ = fake_srun
    what = 'WORK_DIR' if script == TRAIN_SH else 'CHECKPOINT'
    proc = _run(script, ['p', 'j', 'c.py'], bin_dir)
    assert proc.returncode == 2
    assert 'usage:' in proc.stderr and what in proc.stderr
    assert 'expected at least 4 arguments, got 3' in proc.stderr
    for name, value in [('GPUS', '0'), ('GPUS_PER_NODE', 'eight'),
                        ('CPUS_PER_TASK', '-1')]:
        proc = _run(script, ['p', 'j', 'c.py', 'x'], bin_dir, **{name: value})
        assert proc.returncode == 2
        assert f"{name} must be a positive integer, got '{value}'" in \
            proc.stderr
    proc = _run(script, ['p', 'j', 'c.py', 'x'])
    assert proc.returncode == 2 and 'srun not found' in proc.stderr


def test_shared_runner_rejects_an_unknown_mode(fake_srun):
    bin_dir, _ = fake_srun
    proc = _run(
        osp.join(ROOT, 'tools', 'slurm_srun.sh'),
        ['eval', 'p', 'j', 'c.py', 'x'], bin_dir)
    assert proc.returncode == 2
    assert "mode must be 'train' or 'test', got 'eval'" in proc.stderr
