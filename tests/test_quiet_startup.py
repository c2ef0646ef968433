"""Tools start without third-party warnings; the compat filters hide nothing else."""
import os.path as osp
import subprocess
import sys
import warnings

import nlcl_plugin  # noqa: F401  (installs the filters)
from nlcl_plugin import compat


def _stderr(repo_root, *args):
    res = subprocess.run([sys.executable, *args], cwd=repo_root, capture_output=True, text=True)
    return res.returncode, res.stderr


def test_derain_help_starts_quietly(repo_root):
    rc, err = _stderr(repo_root, osp.join('tools', 'derain.py'), '--help')
    assert rc == 0
    assert err == ''


def test_tool_that_imports_mmagic_starts_quietly(repo_root):
    # tools/test.py builds mmagic's registries (mmagic, diffusers) before it checks the
    # checkpoint, so its only output is the error about the missing file
    rc, err = _stderr(repo_root, osp.join('tools', 'test.py'), 'configs/nlcl_demo.py',
                      'no_such_checkpoint.pth')
    assert rc == 2
    assert 'Warning' not in err, err
    assert err.strip().splitlines() == ['error: checkpoint not found: no_such_checkpoint.pth']


def test_filters_are_narrow():
    """The same message from another module, or another category, still shows."""
    message = '`Transformer2DModelOutput` is deprecated and will be removed'
    with warnings.catch_warnings(record=True) as seen:
        compat._quiet_third_party_warnings()
        warnings.warn_explicit(message, FutureWarning, 'x.py', 1, module='nlcl_plugin.x')
        warnings.warn_explicit(message, UserWarning, 'x.py', 1, module='diffusers.models.x')
        warnings.warn_explicit(message, FutureWarning, 'x.py', 1, module='diffusers.models.x')
    assert [(w.category, w.filename) for w in seen] == [(FutureWarning, 'x.py'),
                                                       (UserWarning, 'x.py')]
