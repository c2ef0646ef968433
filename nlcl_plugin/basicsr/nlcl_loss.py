"""NLCL's losses in BasicSR's ``LOSS_REGISTRY``.

The core loss classes are registered as they are, under their own names (BasicSR has
none of these names), so ``build_loss`` builds them from the ``train`` section of an
option file::

    train:
      gan_opt:            # BasicSR's own GANLoss, LSGAN
        type: GANLoss
        gan_type: lsgan
        real_label_val: 1.0
        fake_label_val: 0.0
        loss_weight: 1.0
      layer_opt:
        type: LayerContrastiveLoss
        tau_bg: 0.1
        tau_rain: 0.05
      loc_opt:
        type: LocationContrastiveLoss
        tau: 0.07
      consistency_opt:
        type: ConsistencyLoss
      sparsity_opt:
        type: SparsityLoss
        loss_weight: 0.1
      identity_opt:       # optional, beyond the paper
        type: IdentityLoss
        loss_weight: 1.0
        criterion: l1     # or l2 (squared)
      transplant_opt:     # optional, beyond the paper
        type: RainTransplantLoss
        loss_weight: 1.0
      idempotence_opt:    # optional, beyond the paper
        type: IdempotenceLoss
        loss_weight: 1.0
      streak_floor_opt:   # optional, beyond the paper
        type: StreakFloorLoss
        loss_weight: 1.0
      exclusion_opt:      # optional, beyond the paper
        type: LayerExclusionLoss
        loss_weight: 1.0
"""
from basicsr.utils.registry import LOSS_REGISTRY

from ..models.losses import (ConsistencyLoss, IdempotenceLoss, IdentityLoss,
                             LayerContrastiveLoss, LayerExclusionLoss, LocationContrastiveLoss,
                             RainTransplantLoss, SparsityLoss, StreakFloorLoss)

__all__ = ['ConsistencyLoss', 'IdempotenceLoss', 'IdentityLoss', 'LayerContrastiveLoss',
           'LayerExclusionLoss', 'LocationContrastiveLoss', 'RainTransplantLoss', 'SparsityLoss',
           'StreakFloorLoss']

for _loss in (LayerContrastiveLoss, LocationContrastiveLoss, ConsistencyLoss, SparsityLoss,
              IdentityLoss, RainTransplantLoss, IdempotenceLoss, StreakFloorLoss,
              LayerExclusionLoss):
    LOSS_REGISTRY.register(_loss)
