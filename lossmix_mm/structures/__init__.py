"""Data structures of LossMix: boxes that carry their per-box fields."""
from .lossmix_boxes import LossMixBoxes

__all__ = ['LossMixBoxes']
