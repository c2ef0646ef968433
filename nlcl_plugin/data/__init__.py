"""Host-independent data tools: a synthetic rain renderer and the built-in demo data.

``prepare_demo_data`` and ``DEMO_DATA_VERSION`` are imported on first access, so that
``python -m nlcl_plugin.data.demo_data`` runs the module only once.
"""
from .rain_renderer import BLEND_MODES, RainStyle, motion_kernel, render_rain, sample_style

__all__ = [
    'BLEND_MODES', 'DEMO_DATA_VERSION', 'RainStyle', 'motion_kernel', 'prepare_demo_data',
    'render_rain', 'sample_style'
]

_LAZY = ('DEMO_DATA_VERSION', 'prepare_demo_data')


def __getattr__(name):
    if name in _LAZY:
        from . import demo_data
        return getattr(demo_data, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
