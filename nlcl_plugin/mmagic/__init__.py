"""MMagic adapter: registers NLCL's model, networks, losses, datasets, hooks and metrics.

Use from a config with::

    custom_imports = dict(imports=['nlcl_plugin.mmagic'], allow_failed_imports=False)
    default_scope = 'mmagic'
"""
from .. import compat as _compat

_compat.install()

from . import datasets  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import hooks  # noqa: E402,F401
from . import registry  # noqa: E402,F401  (networks and losses)
from . import visualization  # noqa: E402,F401
from . import zoo  # noqa: E402,F401  (MMagic's CycleGAN on rain data)
from .nlcl import NLCL  # noqa: E402

__all__ = ['NLCL']
