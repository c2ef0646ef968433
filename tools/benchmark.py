#!/usr/bin/env python
"""Micro-benchmarks of nlcl_plugin, one or more tables per section.

Examples:
    python tools/benchmark.py --section sampler
    python tools/benchmark.py --section train --threads 1
    python tools/benchmark.py --section all --device cuda

The command line of :mod:`nlcl_plugin.benchmarks` (``nlcl_plugin/benchmarks/cli.py``
describes every section and option; ``--help`` lists them). The library's names are
re-exported here for scripts that import this file.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from nlcl_plugin.benchmarks.common import *  # noqa: E402,F401,F403
from nlcl_plugin.benchmarks.sampler import *  # noqa: E402,F401,F403
from nlcl_plugin.benchmarks.inference import *  # noqa: E402,F401,F403
from nlcl_plugin.benchmarks.train import *  # noqa: E402,F401,F403
from nlcl_plugin.benchmarks.cli import main, parse_args  # noqa: E402,F401

if __name__ == '__main__':
    main()
