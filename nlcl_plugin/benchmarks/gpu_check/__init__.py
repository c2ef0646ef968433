"""The GPU check (``tools/gpu_check.py``, ``make gpu-check``) as a library.

One module per section (:mod:`.env`, :mod:`.parity`, :mod:`.sampler`, :mod:`.runner`,
:mod:`.dist`, :mod:`.bench`, :mod:`.demo`, :mod:`.compile`), each a function
``section_<name>(s)`` filling in a :class:`~.core.Section`; :mod:`.core` holds the settings
and shared helpers, :mod:`.report` the targets and the report, :mod:`.cli` the command
line, which runs every section in a child process (``python -m
nlcl_plugin.benchmarks.gpu_check``). torch is imported only inside the sections.
"""
from .cli import SECTION_FNS, cuda_status, main, parse_args, run_child, run_section
from .core import (AUTHORS_ITER_S, DEFAULT_BUDGET, DEFAULT_SECTIONS, SECTIONS, TARGETS,
                   Section)
from .dist import _dist_reason
from .report import (evaluate_targets, exit_status, git_commit, provenance, render_markdown,
                     why_missed, write_report)
from .runner import section_runner

__all__ = [
    'AUTHORS_ITER_S', 'DEFAULT_BUDGET', 'DEFAULT_SECTIONS', 'SECTIONS', 'SECTION_FNS', 'TARGETS',
    'Section', 'cuda_status', 'evaluate_targets', 'exit_status', 'git_commit', 'main',
    'parse_args', 'provenance', 'render_markdown', 'run_child', 'run_section',
    'section_runner', 'why_missed', 'write_report', '_dist_reason'
]
