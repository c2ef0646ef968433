"""NLCL's loss terms in plain torch (the adversarial LSGAN term comes from the host)."""
from .consistency import ConsistencyLoss
from .idempotence import IdempotenceLoss
from .identity import IdentityLoss
from .layer_contrastive import TPAMI_ASYMMETRIC_DEFAULTS, LayerContrastiveLoss
from .layer_exclusion import LayerExclusionLoss, layer_correlation
from .location_contrastive import LocationContrastiveLoss, multilevel_mean
from .rain_transplant import RainTransplantLoss, transplant
from .sparsity import SPARSITY_TARGETS, SparsityLoss
from .streak_floor import StreakFloorLoss, streak_share

__all__ = [
    'ConsistencyLoss', 'IdempotenceLoss', 'IdentityLoss', 'LayerContrastiveLoss',
    'LayerExclusionLoss', 'LocationContrastiveLoss', 'RainTransplantLoss', 'SPARSITY_TARGETS',
    'SparsityLoss', 'StreakFloorLoss', 'TPAMI_ASYMMETRIC_DEFAULTS', 'layer_correlation',
    'multilevel_mean', 'streak_share', 'transplant'
]
