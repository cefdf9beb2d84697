"""Compatibility of mmengine 0.10.x with torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
loads local checkpoints with a plain ``torch.load``, so resuming from its own
checkpoints fails ("Unsupported global: ...HistoryBuffer"): they hold the
message hub's history buffers and numpy values, not only tensors.

Importing this module (``import lossmix_mm`` does) replaces mmengine's loader
for local paths by one that loads with ``weights_only=False`` -- what mmengine
meant on the torch releases it was written for. Only do this for checkpoints
you trust (your own training runs): unpickling can run code. Loaders for other
schemes (http, s3, ...) are left as they are.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version

TORCH_LOADS_WEIGHTS_ONLY = digit_version(
    torch.__version__.split('+')[0]) >= digit_version('2.6.0')


def load_from_local_trusted(filename: str, map_location=None) -> dict:
    """``mmengine.runner.checkpoint.load_from_local`` with full unpickling.

    Args:
        filename (str): local checkpoint path (``~`` expanded).
        map_location: as for ``torch.load``.

    Returns:
        dict: the checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


if TORCH_LOADS_WEIGHTS_ONLY:
    # '' is the local-path scheme mmengine registers for itself; replacing a
    # registered scheme needs force=True.
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_trusted, force=True)
