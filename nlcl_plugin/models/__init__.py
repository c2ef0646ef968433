"""Host-independent NLCL maths in plain torch: networks, sampler, losses, objective."""
from .discriminator import BlurDownsample, PatchDiscriminator
from .generator import DecompositionGenerator, ResBlock
from .heads import ProjectionHeads
from .sampler import NonLocalPatchSampler, nonlocal_topk, nonlocal_topk_batched

__all__ = [
    'BlurDownsample', 'DecompositionGenerator', 'NonLocalPatchSampler', 'PatchDiscriminator',
    'ProjectionHeads', 'ResBlock', 'nonlocal_topk', 'nonlocal_topk_batched'
]
