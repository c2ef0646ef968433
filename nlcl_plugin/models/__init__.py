"""Host-independent NLCL maths in plain torch: networks, sampler, losses."""
from .discriminator import BlurDownsample, PatchDiscriminator
from .generator import DecompositionGenerator, ResBlock
from .heads import ProjectionHeads

__all__ = [
    'BlurDownsample', 'DecompositionGenerator', 'PatchDiscriminator', 'ProjectionHeads',
    'ResBlock'
]
