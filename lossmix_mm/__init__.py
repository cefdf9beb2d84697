"""lossmix_mm: LossMix for MMDetection 3.x.

Importing the package registers its transforms, heads and hooks into mmdet's
registries (configs do it through ``custom_imports``).
"""
from . import datasets, engine, models, structures, visualization  # noqa: F401
from .version import __version__

__all__ = ['__version__']
