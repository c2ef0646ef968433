from .multi_set_concat_visualizer import MultiSetConcatVisualizer

__all__ = ['MultiSetConcatVisualizer']
