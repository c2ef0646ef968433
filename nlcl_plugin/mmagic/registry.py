"""Registers the host-independent networks and losses in MMagic's ``MODELS``.

MMagic has no LOSSES registry: losses live in ``MODELS`` too. The discriminator is
registered as ``NLCLPatchDiscriminator`` because MMagic has its own ``PatchDiscriminator``.
"""
from mmagic.registry import MODELS

from ..models import DecompositionGenerator, PatchDiscriminator
from ..models.losses import (ConsistencyLoss, IdempotenceLoss, IdentityLoss,
                             LayerContrastiveLoss, LayerExclusionLoss, LocationContrastiveLoss,
                             RainTransplantLoss, SparsityLoss, StreakFloorLoss)

MODELS.register_module(name='DecompositionGenerator', module=DecompositionGenerator)
MODELS.register_module(name='NLCLPatchDiscriminator', module=PatchDiscriminator)
for _loss in (ConsistencyLoss, IdempotenceLoss, IdentityLoss, LayerContrastiveLoss,
              LayerExclusionLoss, LocationContrastiveLoss, RainTransplantLoss, SparsityLoss,
              StreakFloorLoss):
    MODELS.register_module(name=_loss.__name__, module=_loss)
