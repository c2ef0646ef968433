"""Training hooks: decomposition pictures, intrinsic-dimension monitoring, crash-safe
checkpoints and non-finite loss handling."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .decomposition_visualization_hook import DecompositionVisualizationHook
from .intrinsic_dimension_hook import IntrinsicDimensionHook
from .nonfinite_loss_hook import NonFiniteLossError, NonFiniteLossHook

__all__ = [
    'AtomicCheckpointHook', 'DecompositionVisualizationHook', 'IntrinsicDimensionHook',
    'NonFiniteLossError', 'NonFiniteLossHook'
]
