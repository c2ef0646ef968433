"""``python -m nlcl_plugin.benchmarks.gpu_check``: the GPU check (also its sections' child
processes)."""
import sys

from .cli import main

sys.exit(main())
