"""tools/gpu_check.sh: its dry mode runs every step on the CPU, so the
script a GPU machine runs cannot rot where no GPU is lent."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

# what tests/conftest.py makes torch's default device
TEST_DEVICE = os.environ.get('LOSSMIX_TEST_DEVICE', 'cpu')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_default_device_follows_env():
    """Under LOSSMIX_TEST_DEVICE every tensor a test creates is there."""
    assert torch.zeros(1).device.type == TEST_DEVICE
    assert torch.nn.Linear(2, 2).weight.device.type == TEST_DEVICE


@pytest.mark.slow
def test_test_device_switch_moves_tensors():
    """The switch gpu_check.sh uses, shown with the 'meta' device."""
    env = dict(os.environ, LOSSMIX_TEST_DEVICE='meta')
    proc = subprocess.run([
        sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
        f'{__file__}::test_default_device_follows_env'
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '1 passed' in proc.stdout


@pytest.mark.slow
def test_gpu_check_dry_run(tmp_path):
    env = dict(
        os.environ, PYTHON=sys.executable, PORT='29547', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', 'tools/gpu_check.sh', '--dry', '--out',
         str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    summary = out[out.index('gpu_check summary (dry run on the CPU)'):]
    for step in ('PASS  environment', "PASS  collect heads' and mixers'",
                 "PASS  heads' and mixers' tests on cpu",
                 'PASS  2 iterations, dist_train.sh 1 process',
                 'SKIP  2 iterations with --amp', 'PASS  benchmark on cpu'):
        assert step in summary, summary
    assert 'FAIL' not in summary
    # the training really ran its 2 iterations, the benchmark wrote a table
    log = open(tmp_path / 'train.log').read()
    assert 'Iter(train) [2/2]' in log
    assert osp.isfile(tmp_path / 'benchmark.md')


def test_gpu_check_rejects_unknown_argument():
    proc = subprocess.run(['bash', 'tools/gpu_check.sh', '--bogus'],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "unknown argument '--bogus'" in proc.stderr
