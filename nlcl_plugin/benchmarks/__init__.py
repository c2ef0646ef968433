"""Benchmarks and the GPU check of nlcl_plugin, as a library.

The command lines are thin: ``tools/benchmark.py`` runs :mod:`.cli`, ``tools/gpu_check.py``
runs :mod:`.gpu_check.cli`. Modules:

* :mod:`.common`: the section registry, timing on CPU or CUDA, tables, the photo and
  weights the sections run on;
* :mod:`.sampler`, :mod:`.inference` (``inference`` and ``tiling``), :mod:`.train`: the
  benchmark sections;
* :mod:`.cli`: ``tools/benchmark.py``'s arguments and main;
* :mod:`.gpu_check`: ``tools/gpu_check.py``, one module per section, the report and the
  command line.

Nothing is imported here, so that ``tools/gpu_check.py`` starts without torch.
"""
