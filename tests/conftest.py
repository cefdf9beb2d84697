import pytest

import generate_toy_data  # tools/ is on pytest's pythonpath


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
    generate_toy_data.generate(root, seed=1, num_train=6, num_val=3,
                               style='clipart')
    return root
