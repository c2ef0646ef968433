"""BasicSR adapter: registers NLCL's model, networks, losses and dataset.

Importing this package fills BasicSR's registries (``MODEL_REGISTRY``: ``NLCLModel``;
``ARCH_REGISTRY``: ``NLCLGenerator``, ``NLCLDiscriminator``; ``LOSS_REGISTRY``:
``LayerContrastiveLoss``, ``LocationContrastiveLoss``, ``ConsistencyLoss``,
``SparsityLoss``, ``IdentityLoss``, ``RainTransplantLoss``, ``IdempotenceLoss``,
``StreakFloorLoss``, ``LayerExclusionLoss``; ``DATASET_REGISTRY``:
``UnpairedRainImageDataset``). Train with::

    python tools/basicsr_train.py -opt configs/basicsr/nlcl_demo.yml
"""
from .. import compat as _compat

_compat.install()

from . import nlcl_arch  # noqa: E402,F401
from . import nlcl_dataset  # noqa: E402,F401
from . import nlcl_loss  # noqa: E402,F401
from . import nlcl_model  # noqa: E402,F401
from .nlcl_arch import NLCLDiscriminator, NLCLGenerator  # noqa: E402
from .nlcl_dataset import UnpairedRainImageDataset  # noqa: E402
from .nlcl_model import LinearTailLR, NLCLModel  # noqa: E402

__all__ = [
    'LinearTailLR', 'NLCLDiscriminator', 'NLCLGenerator', 'NLCLModel',
    'UnpairedRainImageDataset'
]
