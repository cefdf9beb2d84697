from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hooks_all
from .union_guard import LossMixWeightsIgnoredError, install

install()  # the no-silent-Union check, see union_guard.py

__all__ = _hooks_all + ['LossMixWeightsIgnoredError']
