#!/usr/bin/env python
"""One command that checks the plugin on a CUDA GPU and records the numbers.

    python tools/gpu_check.py [--sections env,parity,...] [--quick] [--out results]
    make gpu-check

The command line of :mod:`nlcl_plugin.benchmarks.gpu_check` (``--help`` lists the
options; ``nlcl_plugin/benchmarks/gpu_check/cli.py`` describes the sections, the report
and the exit status).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from nlcl_plugin.benchmarks.gpu_check.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
