"""What the evaluation tools compute: error bands, the demo report, the comparison over
seeds and its model-zoo table, training diagnostics, the discriminator probe; metrics per
rain kind. ``tools/*.py`` are their command lines."""
from .per_kind import KIND_METRICS, kinds_of_folder, per_kind_means

__all__ = ['KIND_METRICS', 'kinds_of_folder', 'per_kind_means']
