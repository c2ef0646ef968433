"""Training hooks: decomposition pictures and intrinsic-dimension monitoring."""
from .decomposition_visualization_hook import DecompositionVisualizationHook
from .intrinsic_dimension_hook import IntrinsicDimensionHook

__all__ = ['DecompositionVisualizationHook', 'IntrinsicDimensionHook']
