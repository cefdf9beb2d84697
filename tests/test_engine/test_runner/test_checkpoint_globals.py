"""Checkpoints load with weights_only=True and only mmengine's own globals:
a file whose unpickling would run code is refused with torch's message
(load_checkpoint with and without lossmix_mm, --resume, load_from, the
context manager), and the marker it would write never appears."""
import io
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer

from lossmix_mm.engine import (MMENGINE_CHECKPOINT_GLOBALS,
                               mmengine_checkpoint_globals)
from lossmix_test_utils import toy_config, toy_options

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
REFUSAL = 'Unsupported global: GLOBAL exec was not an allowed global'


class WritesMarker:
    """Unpickling this runs ``exec``, which writes ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return exec, (f'open({self.path!r}, "w").write("ran")', )


class GetsAttribute:
    """Unpickles to ``getattr(HistoryBuffer, name)``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self):
        return getattr, (HistoryBuffer, self.name)


@pytest.fixture
def evil(tmp_path):
    """(checkpoint path, marker path): an mmengine-looking checkpoint with
    a payload that writes the marker when unpickled."""
    marker = str(tmp_path / 'marker')
    path = str(tmp_path / 'evil.pth')
    torch.save(
        dict(
            meta=dict(epoch=0, iter=2),
            state_dict={},
            payload=WritesMarker(marker)), path)
    return path, marker


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=300)


@pytest.mark.slow
def test_the_payload_is_real(evil):
    """Control: a full unpickling does write the marker."""
    path, marker = evil
    proc = run_python(f'import torch; torch.load({path!r}, '
                      'weights_only=False)')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert osp.isfile(marker)


@pytest.mark.slow
@pytest.mark.parametrize('imports', ['', 'import lossmix_mm'])
def test_mmengine_load_checkpoint_refuses(evil, imports):
    path, marker = evil
    proc = run_python(f'{imports}\nimport torch\n'
                      'from mmengine.runner import load_checkpoint\n'
                      f'load_checkpoint(torch.nn.Linear(2, 2), {path!r})')
    assert proc.returncode != 0
    assert REFUSAL in proc.stderr
    assert not osp.isfile(marker)


def test_context_manager_refuses_other_globals(evil):
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError, match=REFUSAL):
        with mmengine_checkpoint_globals():
            torch.load(path)
    assert not osp.isfile(marker)


@pytest.mark.parametrize('name', ['__init__', 'update', '__dict__'])
def test_getattr_is_only_historybuffer_statistics(name):
    """``builtins.getattr`` resolves HistoryBuffer's statistics methods and
    nothing else."""
    buffer = io.BytesIO()
    torch.save(dict(ok=GetsAttribute('mean'), bad=GetsAttribute(name)), buffer)
    buffer.seek(0)
    with pytest.raises(
            pickle.UnpicklingError,
            match='not allowed in an '
            'mmengine checkpoint'):
        with mmengine_checkpoint_globals():
            torch.load(buffer)
    buffer = io.BytesIO()
    torch.save(GetsAttribute('mean'), buffer)
    buffer.seek(0)
    with mmengine_checkpoint_globals():
        assert torch.load(buffer) is HistoryBuffer.mean


def test_allowlist_is_scoped_and_nests():
    before = set(torch.serialization.get_safe_globals())
    with mmengine_checkpoint_globals():
        inside = set(torch.serialization.get_safe_globals())
        with mmengine_checkpoint_globals():
            pass
        assert set(torch.serialization.get_safe_globals()) == inside
    assert set(torch.serialization.get_safe_globals()) == before
    assert inside - before == {(obj, name)
                               for obj, name, _ in MMENGINE_CHECKPOINT_GLOBALS}


def test_every_entry_has_a_reason():
    names = [name for _, name, _ in MMENGINE_CHECKPOINT_GLOBALS]
    assert len(names) == len(set(names))
    assert all(reason for _, _, reason in MMENGINE_CHECKPOINT_GLOBALS)


def _train_argv(config, work_dir, toy_root, extra=()):
    return [config, '--work-dir', work_dir, *extra, '--cfg-options'
            ] + toy_options(
                toy_root, max_iters=1)


def test_train_resume_refuses(evil, toy_root, tmp_path):
    import train as train_tool
    path, marker = evil
    with pytest.raises(pickle.UnpicklingError, match=REFUSAL):
        train_tool.main(
            _train_argv(
                toy_config('lossmix'), str(tmp_path / 'w'), toy_root,
                ['--resume', path]))
    assert not osp.isfile(marker)


def test_train_load_from_refuses(evil, toy_root, tmp_path):
    import train as train_tool
    path, marker = evil
    argv = _train_argv(toy_config('lossmix'), str(tmp_path / 'w'), toy_root)
    with pytest.raises(pickle.UnpicklingError, match=REFUSAL):
        train_tool.main(argv + [f'load_from={path}'])
    assert not osp.isfile(marker)


@pytest.mark.slow
def test_mim_train_load_from_refuses(evil, toy_root, tmp_path):
    """mmdet's own train.py builds the config's LossMixRunner."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip('openmim is not installed (tools/setup_cpu.sh does it)')
    path, marker = evil
    proc = subprocess.run(
        [mim, 'train', 'mmdet'] +
        _train_argv(toy_config('lossmix'), str(tmp_path / 'w'), toy_root) +
        [f'load_from={path}'],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'LossMixRunner' in log and REFUSAL in log
    assert not osp.isfile(marker)
