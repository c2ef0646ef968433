"""Host-independent evaluation helpers (what the report and comparison tools compute)."""
from .per_kind import KIND_METRICS, kinds_of_folder, per_kind_means

__all__ = ['KIND_METRICS', 'kinds_of_folder', 'per_kind_means']
