import os

import pytest
import torch

import generate_toy_data  # tools/ is on pytest's pythonpath
import train as train_tool  # tools/train.py

# tools/gpu_check.sh runs the heads' and mixers' tests with every tensor a test
# creates on the GPU: LOSSMIX_TEST_DEVICE=cuda makes it torch's default device.
TEST_DEVICE = os.environ.get('LOSSMIX_TEST_DEVICE', 'cpu')


@pytest.fixture(autouse=True)
def default_test_device():
    """Tensors and modules a test creates land on ``LOSSMIX_TEST_DEVICE``."""
    if TEST_DEVICE == 'cpu':
        yield
        return
    torch.set_default_device(TEST_DEVICE)
    try:
        yield
    finally:
        torch.set_default_device('cpu')


@pytest.fixture(scope='session')
def toy_root(tmp_path_factory):
    """A tiny generated toy dataset: 6 train and 3 val images."""
    root = str(tmp_path_factory.mktemp('toy'))
    generate_toy_data.generate(root, seed=0, num_train=6, num_val=3)
    return root


@pytest.fixture(scope='session')
def toy_clipart_root(tmp_path_factory):
    """A tiny generated target domain ('clipart' style): 6 train, 3 val."""
    root = str(tmp_path_factory.mktemp('toy_clipart'))
    generate_toy_data.generate(
        root, seed=1, num_train=6, num_val=3, style='clipart')
    return root


@pytest.fixture
def cfg_edits(monkeypatch):
    """Functions applied, in order, to the loaded config of every
    ``tools/train.py`` run of the test (``train_tool.load_cfg`` patched)."""
    edits = []
    load_cfg = train_tool.load_cfg

    def edited(*args, **kwargs):
        cfg = load_cfg(*args, **kwargs)
        for edit in edits:
            edit(cfg)
        return cfg

    monkeypatch.setattr(train_tool, 'load_cfg', edited)
    return edits
