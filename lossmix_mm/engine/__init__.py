from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .runner import *  # noqa: F401,F403
from .runner import __all__ as _runner_all
from .union_guard import LossMixWeightsIgnoredError

__all__ = _hooks_all + _runner_all + ['LossMixWeightsIgnoredError']
