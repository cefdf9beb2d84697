from .checkpoint_globals import (MMENGINE_CHECKPOINT_GLOBALS,
                                 mmengine_checkpoint_globals)
from .lossmix_runner import LossMixRunner

__all__ = [
    'LossMixRunner', 'MMENGINE_CHECKPOINT_GLOBALS',
    'mmengine_checkpoint_globals'
]
