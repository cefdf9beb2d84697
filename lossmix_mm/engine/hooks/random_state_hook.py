"""Save and restore the random number generators, so that a resumed run
draws what the uninterrupted run drew."""
import logging
import random
from typing import Callable, Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

CHECKPOINT_KEY = 'random_states'


def get_random_states() -> dict:
    """The states of this process's generators: python ``random``, numpy's
    global ``RandomState``, torch's CPU generator and, when CUDA is
    available, every CUDA device's default generator.

    Only plain types and CPU tensors, so that the states load where the rest
    of the checkpoint loads.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and (with CUDA) ``cuda``.
    """
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    states = dict(
        python=random.getstate(),
        numpy=(name, keys.tolist(), int(pos), int(has_gauss),
               float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    """Restore what :func:`get_random_states` returned.

    The tensors may have been mapped to a GPU when the checkpoint was
    loaded; they go back to the CPU, where torch expects them. The CUDA
    states are restored only when this process sees as many devices as the
    one that saved them (a warning otherwise).

    Args:
        states (dict): the output of :func:`get_random_states`.
    """
    random.setstate(states['python'])
    name, keys, pos, has_gauss, cached_gaussian = states['numpy']
    np.random.set_state(
        (name, np.asarray(keys,
                          dtype=np.uint32), pos, has_gauss, cached_gaussian))
    torch.set_rng_state(states['torch'].cpu())
    cuda = states.get('cuda')
    if cuda is None or not torch.cuda.is_available():
        return
    if len(cuda) != torch.cuda.device_count():
        print_log(
            f'RandomStateHook: the checkpoint holds the CUDA random states '
            f'of {len(cuda)} devices, this process sees '
            f'{torch.cuda.device_count()}: CUDA random states not restored',
            logger='current',
            level=logging.WARNING)
        return
    torch.cuda.set_rng_state_all([state.cpu() for state in cuda])


class _RestoreBeforeDraw:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` while the
    resumed loop skips the batches of the iterations done before the
    checkpoint: right before the first batch the resumed run trains on, it
    calls ``restore`` and puts the loop's own iterator back. Any other
    attribute is the wrapped iterator's (``MixingScheduleHook`` restarts
    workers through it)."""

    def __init__(self, loop: IterBasedTrainLoop, skip: int,
                 restore: Callable[[], None]) -> None:
        vars(self).update(
            _loop=loop,
            _inner=loop.dataloader_iterator,
            _skip=skip,
            _restore=restore)

    def __iter__(self) -> '_RestoreBeforeDraw':
        return self

    def __next__(self):
        inner = vars(self)['_inner']
        if self._skip > 0:
            vars(self)['_skip'] -= 1
        else:
            self._restore()
            self._loop.dataloader_iterator = inner
        return next(inner)

    def __getattr__(self, name: str):
        return getattr(vars(self)['_inner'], name)

    def __setattr__(self, name: str, value) -> None:
        setattr(vars(self)['_inner'], name, value)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as the uninterrupted
    run (mixing coefficients and partners, flips, samplers).

    Writes the states of python's ``random``, numpy's and torch's
    generators (CPU and every CUDA device) into every checkpoint under
    ``checkpoint['random_states']`` and, on resume, restores them where the
    uninterrupted run drew its next batch: right before the first batch
    after the skipped ones (``IterBasedTrainLoop``) or at the start of the
    next epoch (epoch-based loops). States are kept across validation, so
    validating does not change training's draws. A multi-process run
    restores nothing and warns; ``load_from`` restores nothing. What is
    and is not bitwise exact: docs/user_guides/train_test.md.

    Usage (a default hook, so the dict merges through inheritance)::

        default_hooks = dict(random_state=dict(type='RandomStateHook'))
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[dict] = None  # states of a loaded checkpoint
        self._pending: Optional[dict] = None  # to restore in this run
        self._kept: Optional[dict] = None  # states kept during validation

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write this process's states (or those kept during validation)."""
        states = self._kept if self._kept is not None else \
            get_random_states()
        checkpoint[CHECKPOINT_KEY] = dict(states, world_size=get_world_size())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Hold the checkpoint's states until the resumed loop needs them."""
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        """Keep the loaded states only for a resumed single-process run."""
        states, self._pending = self._loaded, None
        self._loaded = None
        if states is None or runner.iter == 0:
            return  # fresh run, or weights loaded with load_from
        world_size = get_world_size()
        if world_size != 1 or states.get('world_size', 1) != 1:
            print_log(
                'RandomStateHook: random states are per process; a run of '
                f'{world_size} process(es) resumed from a checkpoint of '
                f"{states.get('world_size', 1)} does not restore them",
                logger='current',
                level=logging.WARNING)
            return
        self._pending = states

    def before_train_epoch(self, runner) -> None:
        """Restore the states where the uninterrupted run drew its next
        batch (see the class docstring)."""
        states = self._pending
        if states is None:
            return
        self._pending = None
        iteration = runner.iter

        def restore() -> None:
            set_random_states(states)
            print_log(
                f'RandomStateHook: random states of iteration {iteration} '
                'restored',
                logger='current')

        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreBeforeDraw(
                loop, loop.iter, restore)
        else:
            restore()

    def before_val(self, runner) -> None:
        """Keep the training's states while validating."""
        self._kept = get_random_states()

    def after_val(self, runner) -> None:
        """Put the training's states back."""
        if self._kept is not None:
            set_random_states(self._kept)
            self._kept = None
