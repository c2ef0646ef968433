"""Evaluation for MMagic (registered on import).

* ``NoReferenceNIQE`` (``METRICS``): MMagic's NIQE of the prediction alone, for test
  folders without ground truth (real rainy photos);
* ``AvailableSetsTestLoop`` / ``AvailableSetsValLoop`` (``LOOPS``): MMagic's multi-set
  loops that skip the sets missing on disk and return the merged, per-set prefixed
  metrics.
"""
from .available_sets_test_loop import (AvailableSetsTestLoop, AvailableSetsValLoop,
                                       dataset_paths, find_missing_data,
                                       select_available_sets)
from .no_reference_niqe import NoReferenceNIQE

__all__ = [
    'AvailableSetsTestLoop', 'AvailableSetsValLoop', 'NoReferenceNIQE', 'dataset_paths',
    'find_missing_data', 'select_available_sets'
]
