import os
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import nlcl_plugin  # noqa: E402,F401  (compat fixes active for every test)

OFFICIAL_DIR = os.environ.get('NLCL_OFFICIAL_DIR', osp.join(REPO, '..', 'shared', 'official-nlcl'))


@pytest.fixture(scope='session')
def official_dir():
    """The authors' released checkpoints, rainy photos and outputs (not shipped)."""
    needed = ['checkpoints/latest_net_Back.pth', 'rainy', 'derained']
    if not all(osp.exists(osp.join(OFFICIAL_DIR, n)) for n in needed):
        pytest.skip(f'official NLCL files not found at {osp.abspath(OFFICIAL_DIR)} '
                    '(set NLCL_OFFICIAL_DIR to run the parity tests)')
    return OFFICIAL_DIR


@pytest.fixture(scope='session')
def repo_root():
    return REPO
