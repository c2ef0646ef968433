"""NLCL's networks in BasicSR's ``ARCH_REGISTRY``.

BasicSR registers a class under its ``__name__``, so the core networks are exposed
through thin subclasses with names that cannot clash with BasicSR's own archs. They add
nothing: the weights (``layers.*`` / ``model.*``), the feature taps and the defaults are
those of :class:`~nlcl_plugin.models.generator.DecompositionGenerator` and
:class:`~nlcl_plugin.models.discriminator.PatchDiscriminator`. ``build_network`` passes
the YAML keys as keyword arguments::

    network_g:            # G_B (background)
      type: NLCLGenerator
      mid_channels: 32
      num_blocks: 16
    network_r:            # G_R (rain)
      type: NLCLGenerator
    network_d:
      type: NLCLDiscriminator
"""
from basicsr.utils.registry import ARCH_REGISTRY

from ..models.discriminator import PatchDiscriminator
from ..models.generator import DecompositionGenerator

__all__ = ['NLCLGenerator', 'NLCLDiscriminator']


@ARCH_REGISTRY.register()
class NLCLGenerator(DecompositionGenerator):
    """NLCL's decomposition generator (G_B and G_R) under BasicSR's arch registry.

    Args:
        in_channels (int): Input channels (3 for RGB in [-1, 1]).
        out_channels (int): Output channels (3).
        mid_channels (int): Feature width (32).
        num_blocks (int): Residual blocks (16).
        norm (str): 'instance' (the authors') or 'none' (a local G_B); the other options
            of :class:`DecompositionGenerator` pass through as YAML keys.

    Shapes:
        forward: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """


@ARCH_REGISTRY.register()
class NLCLDiscriminator(PatchDiscriminator):
    """NLCL's PatchGAN discriminator (blur downsampling, feature taps 0, 3, 7, 11).

    Args:
        in_channels (int): Input channels (3).
        base_channels (int): Width of the first conv (64).
        num_layers (int): Downsampling stages (3).
        init_gain (float): Std gain of the xavier-normal initialisation (0.02).

    Shapes:
        forward: (N, in_channels, H, W) -> (N, 1, H', W'), H' = 30 for H = 256.
    """
