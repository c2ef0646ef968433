"""nlcl_plugin: NLCL unsupervised single-image deraining for MMagic and BasicSR.

Importing the package activates :mod:`nlcl_plugin.compat` (lazy import-hook fixes for the
host stack) and nothing else; the host adapters live in ``nlcl_plugin.mmagic`` and
``nlcl_plugin.basicsr`` and are imported only when asked for.
"""
from . import compat as _compat

_compat.install()

__version__ = '0.1.0'
