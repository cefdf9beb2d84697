from .lossmix_local_visualizer import LossMixLocalVisualizer, weight_styles

__all__ = ['LossMixLocalVisualizer', 'weight_styles']
