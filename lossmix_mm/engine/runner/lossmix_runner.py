"""mmengine's Runner with safe checkpoint loading and the Union guard."""
from typing import Callable, Dict, List, Optional, Union

from mmdet.registry import RUNNERS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ..hooks.union_guard_hook import UnionGuardHook
from .checkpoint_globals import mmengine_checkpoint_globals


@RUNNERS.register_module()
class LossMixRunner(Runner):
    """``Runner`` that allows only mmengine's checkpoint globals while
    loading and always runs :class:`UnionGuardHook`.

    Checkpoints (``load_from``, resume, ``tools/test.py``) load with only the
    globals of mmengine's own checkpoints allowed, and only while loading
    (:func:`mmengine_checkpoint_globals`). Where ``torch.load`` defaults to
    ``weights_only=True`` (torch >= 2.6; mmengine passes no
    ``weights_only``), a file that needs any other global is refused with
    torch's message; older torch loads it unchecked. Select it in a config with
    ``runner_type = 'mmdet.LossMixRunner'``: the scope prefix lets mmdet's
    ``tools/train.py`` (``mim train``), which looks runners up in mmengine's
    root registry, find it.
    """

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """Register the config's hooks, then the Union guard if absent."""
        super().register_hooks(default_hooks, custom_hooks)
        if not any(isinstance(hook, UnionGuardHook) for hook in self.hooks):
            self.register_hook(UnionGuardHook())

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """``Runner.load_checkpoint`` (which ``resume`` calls) with the
        globals of mmengine's checkpoints allowed."""
        with mmengine_checkpoint_globals():
            return super().load_checkpoint(filename, map_location, strict,
                                           revise_keys)
