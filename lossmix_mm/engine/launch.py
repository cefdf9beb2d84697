"""Shared set-up of ``tools/train.py`` and ``tools/test.py``."""
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as dist
from mmdet.registry import RUNNERS
from mmengine.config import Config
from mmengine.runner import Runner

from .runner import LossMixRunner


def load_cfg(config: str,
             cfg_options: Optional[dict] = None,
             work_dir: Optional[str] = None,
             launcher: str = 'none') -> Config:
    """Read a config the way mmdet's tools do.

    Args:
        config (str): config file path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; else the config's
            ``work_dir``; else ``./work_dirs/<config name>``.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        Config: the config, ready for :func:`build_runner`.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    cfg.launcher = launcher
    if launcher != 'none' and not torch.cuda.is_available():
        init_cpu_distributed(cfg)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` (as mmdet's tools build it), else
    :class:`LossMixRunner`.

    Args:
        cfg (Config): a config from :func:`load_cfg`.

    Returns:
        Runner: the runner, not yet started.
    """
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return LossMixRunner.from_cfg(cfg)


def init_cpu_distributed(cfg: Config) -> None:
    """Let a ``--launcher pytorch`` run work on CPU-only machines.

    mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device``, which a
    CPU build refuses; it skips its own initialisation when a process group
    exists, so start one with the gloo backend here (torchrun has set
    ``MASTER_ADDR``, ``RANK``, ``WORLD_SIZE``). DDP on CPU takes no
    ``device_ids``.
    """
    if cfg.launcher != 'pytorch':
        raise ValueError('on a machine without CUDA only --launcher pytorch '
                         f'(torchrun) is supported, got {cfg.launcher!r}')
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
