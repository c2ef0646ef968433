"""Narrow, lazy fixes for the host stack on today's torch / numpy.

Every fix is applied only when the module it concerns is imported, and only when that
module is actually broken, so this file is harmless where the hosts already work (for
example a CUDA machine with full mmcv and a matching torchvision). Nothing heavy is
imported by :func:`install`; it only puts an import hook on ``sys.meta_path``.

The fixes (one line of *why* each):

* ``torchvision._meta_registrations``: PyPI's torchvision is CUDA-linked; beside CPU torch
  its ``_C`` cannot load, so the ``torchvision::nms``/``qnms`` schemas it registers fakes
  for do not exist and ``import torchvision`` dies. We define the two schemas first.
* ``torchvision.transforms.functional_tensor``: removed in torchvision 0.17, still imported
  by basicsr 1.4.2 (``import basicsr`` fails); alias it to ``_functional_tensor``.
* ``mmagic``: mmagic 1.2.0 uses ``np.bool8``, removed in numpy 2; alias it to ``np.bool_``.
* ``mmcv._ext``: mmcv-lite has no compiled ops, but mmagic's registry imports editors that
  ``from mmcv.ops import ...`` at import time; a stand-in whose ops raise
  ``NotImplementedError`` when *called* lets registration work (real ops win if present).
* ``mmagic.models.utils.model_utils``: its ``generation_init_weights`` (CycleGAN's and
  Pix2Pix's generators, their discriminators) records what it initialised for every
  module that carries mmengine's ``_params_init_info``, but has a record only for
  convolutions, linear and batch-norm layers: on the generator itself, which carries one
  when ``BaseTranslationModel.init_weights`` runs, it raises ``UnboundLocalError`` and no
  translation model can start training. The layers are initialised as before, and the
  record of the other modules is mmengine's own (``update_init_info``).
* ``mmengine.runner.checkpoint``: torch >= 2.6 loads with ``weights_only=True`` and
  mmengine's own training checkpoints (message hub, numpy scalars) fail to resume, while
  its URL loader (``load_url``) unpickles anything; local files and URLs are loaded
  through :mod:`nlcl_plugin.checkpoint_safety` (weights-only with the types of mmengine's
  checkpoints allowed, full unpickling only for files the user trusts).
* ``mmengine.dist.utils``: mmengine's torchrun start-up calls ``torch.cuda.set_device``
  unconditionally, which fails on CPU-only torch; without CUDA the process group is
  started directly (gloo), so several CPU processes can train together.
* ``mmengine.optim.optimizer.amp_optimizer_wrapper``: ``AmpOptimWrapper`` asserts a
  GPU/NPU/MLU/MUSA device when built, although torch and mmengine's own ``autocast``
  run bf16 autocast on CPU; without an accelerator the assertion is let through, so
  ``--amp`` (bf16 there) trains on CPU too. Its GradScaler then disables itself.
* ``basicsr.train``: basicsr's resume maps the state onto CUDA unconditionally; on a
  machine without CUDA it is loaded onto the CPU instead. Its ``torch.load`` of the
  training state, and ``basicsr.models.base_model``'s of network files
  (``pretrain_network_*``), go through :mod:`nlcl_plugin.checkpoint_safety`.

Besides the fixes, :func:`install` silences four deprecation warnings that diffusers
prints when mmagic imports it (:data:`_QUIET`): they concern diffusers' own re-exports,
are not actionable by the user and looked like a broken install. Each filter matches
one message, its category and the diffusers module that issues it; nothing else is
hidden, the project's own warnings least of all.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from typing import Callable, Dict, Optional, Tuple

__all__ = ['install', 'is_installed']

# Hooks run before (``pre``) or after (``post``) a module's own code executes.
_PRE: Dict[str, Callable[[types.ModuleType], None]] = {}
_POST: Dict[str, Callable[[types.ModuleType], None]] = {}
# Modules that are synthesised when no real finder can provide them.
_FALLBACK: Dict[str, Callable[[str], types.ModuleType]] = {}


def _pre(name):
    def deco(fn):
        _PRE[name] = fn
        return fn
    return deco


def _post(name):
    def deco(fn):
        _POST[name] = fn
        return fn
    return deco


def _fallback(name):
    def deco(fn):
        _FALLBACK[name] = fn
        return fn
    return deco


# --------------------------------------------------------------------------- torchvision
_TV_LIB = None  # keeps the schema library alive for the process


@_pre('torchvision._meta_registrations')
def _torchvision_define_missing_schemas(module):
    global _TV_LIB
    import torch
    import torchvision.extension as ext
    if ext._has_ops() or _TV_LIB is not None:
        return
    try:
        torch.ops.torchvision.nms.default  # noqa: B018 - already defined elsewhere
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library('torchvision', 'FRAGMENT')
    lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    _TV_LIB = lib


@_fallback('torchvision.transforms.functional_tensor')
def _functional_tensor_alias(name):
    return importlib.import_module('torchvision.transforms._functional_tensor')


# --------------------------------------------------------------------------- mmagic / mmcv
@_pre('mmagic')
def _numpy_bool8(module):
    import numpy as np
    if not hasattr(np, 'bool8'):
        np.bool8 = np.bool_


def _layer_mmagic_initialises(m) -> bool:
    """The modules ``generation_init_weights`` initialises (its own test, by class name)."""
    name = type(m).__name__
    return ((hasattr(m, 'weight') and ('Conv' in name or 'Linear' in name))
            or 'BatchNorm2d' in name)


@_post('mmagic.models.utils.model_utils')
def _mmagic_generation_init_info(module):
    import collections

    import torch
    from mmengine.model.weight_init import update_init_info
    original = module.generation_init_weights
    probe = torch.nn.Sequential(torch.nn.Identity())
    probe._params_init_info = collections.defaultdict(dict)
    try:
        original(probe)
        return  # records every module it is given: not broken
    except UnboundLocalError:
        pass

    def generation_init_weights(net, init_type='normal', init_gain=0.02):
        held = {m: m.__dict__.pop('_params_init_info') for m in net.modules()
                if '_params_init_info' in m.__dict__ and not _layer_mmagic_initialises(m)}
        try:
            original(net, init_type=init_type, init_gain=init_gain)
        finally:
            for m, info in held.items():
                m._params_init_info = info
        for m in held:
            update_init_info(m, f'Initialize {type(m).__name__} by generation_init_weights '
                             f"with init_type '{init_type}'.")

    generation_init_weights.__doc__ = original.__doc__
    module.generation_init_weights = generation_init_weights


class _MissingOp:
    """Stand-in for one compiled mmcv op: importable, raises when called."""

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(
            f'mmcv compiled op {self.__name__!r} is not available: mmcv-lite has no '
            'compiled ops. Build full mmcv 2.1.0 (see README, "Installation") to use it.')


@_fallback('mmcv._ext')
def _mmcv_ext_standin(name):
    module = types.ModuleType(name)
    module.__doc__ = 'Stand-in for mmcv._ext (mmcv-lite): every op raises when called.'

    def __getattr__(attr):
        if attr.startswith('__'):
            raise AttributeError(attr)
        return _MissingOp(attr)

    module.__getattr__ = __getattr__
    return module


# --------------------------------------------------------------------------- resume
@_post('mmengine.runner.checkpoint')
def _mmengine_safe_load(module):
    if getattr(module.load_from_local, '_nlcl_patched', False):
        return
    from .checkpoint_safety import guarded_load, load_checkpoint_file
    original = module.load_from_local
    original_load_url = module.load_url

    def load_from_local(filename, map_location):
        import os.path as osp
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'{filename} can not be found.')
        return load_checkpoint_file(filename, map_location=map_location)

    def load_url(url, *args, **kwargs):
        kwargs.pop('weights_only', None)
        return guarded_load(
            lambda weights_only: original_load_url(url, *args, weights_only=weights_only,
                                                   **kwargs), url)

    load_from_local.__doc__ = original.__doc__
    load_from_local._nlcl_patched = True
    module.load_from_local = load_from_local
    module.load_url = load_url
    module.CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


@_post('mmengine.dist.utils')
def _mmengine_cpu_dist(module):
    import torch
    original = module._init_dist_pytorch
    if getattr(original, '_nlcl_patched', False):
        return

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        backend = 'gloo' if backend == 'nccl' else backend
        torch.distributed.init_process_group(backend=backend, **kwargs)

    _init_dist_pytorch._nlcl_patched = True
    module._init_dist_pytorch = _init_dist_pytorch


@_post('mmengine.optim.optimizer.amp_optimizer_wrapper')
def _mmengine_amp_on_cpu(module):
    accelerators = ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
                    'is_musa_available')
    if any(getattr(module, name, lambda: False)() for name in accelerators):
        return
    # The name is used only by AmpOptimWrapper.__init__'s device assertion; the wrapper's
    # autocast (mmengine.runner.amp) handles CPU bf16, and its GradScaler disables itself
    # without CUDA (bf16 needs no loss scaling).
    module.is_cuda_available = lambda: True


class _SafeLoadTorch:
    """``torch`` as seen by a BasicSR module whose ``torch.load`` must be weights-only.

    ``load`` goes through :func:`nlcl_plugin.checkpoint_safety.load_checkpoint_file`; with
    ``cpu`` (no CUDA) it maps onto the CPU and ``cuda.current_device`` answers 0, for
    ``basicsr.train.load_resume_state``, which maps the state onto CUDA unconditionally.
    """

    def __init__(self, torch, cpu: bool = False):
        self._torch = torch
        self._cpu = cpu
        if cpu:
            self.cuda = types.SimpleNamespace(current_device=lambda: 0)

    def load(self, f, map_location=None, **kwargs):
        from .checkpoint_safety import load_checkpoint_file
        return load_checkpoint_file(f, map_location='cpu' if self._cpu else map_location)

    def __getattr__(self, name):
        return getattr(self._torch, name)


@_post('basicsr.train')
def _basicsr_safe_resume(module):
    import torch
    original = module.load_resume_state
    if getattr(original, '_nlcl_patched', False):
        return

    def load_resume_state(opt):
        module.torch = _SafeLoadTorch(torch, cpu=not torch.cuda.is_available())
        try:
            return original(opt)
        finally:
            module.torch = torch

    load_resume_state._nlcl_patched = True
    module.load_resume_state = load_resume_state


@_post('basicsr.models.base_model')
def _basicsr_safe_network_load(module):
    import torch
    if not isinstance(module.torch, _SafeLoadTorch):
        module.torch = _SafeLoadTorch(torch)


# --------------------------------------------------------------------------- warnings
#: (message regex, category, module regex) of the third-party warnings :func:`install`
#: silences; each is a deprecation inside diffusers that its users cannot act on.
_QUIET: Tuple[Tuple[str, type, str], ...] = (
    # diffusers warns about its own legacy output class when mmagic's editors import it
    (r'`Transformer2DModelOutput` is deprecated', FutureWarning, r'diffusers\.models\.'),
    # diffusers' lazy models package loads its own deprecated alias module
    (r'`DualTransformer2DModel` is deprecated', FutureWarning, r'diffusers\.models\.'),
    # mmagic 1.2.0 (vico) imports diffusers.models.unet_2d_condition, an old path
    (r'`UNet2DConditionOutput` is deprecated', FutureWarning, r'diffusers\.models\.'),
    # the same old module, for the model class it re-exports
    (r'`UNet2DConditionModel` is deprecated', FutureWarning, r'diffusers\.models\.'),
)


def _quiet_third_party_warnings() -> None:
    for message, category, module in _QUIET:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)


# --------------------------------------------------------------------------- the hook
class _HookedLoader(importlib.abc.Loader):

    def __init__(self, name, loader):
        self._name = name
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self._name in _PRE:
            _PRE[self._name](module)
        self._loader.exec_module(module)
        if self._name in _POST:
            _POST[self._name](module)


class _AliasLoader(importlib.abc.Loader):

    def __init__(self, factory):
        self._factory = factory

    def create_module(self, spec):
        return self._factory(spec.name)

    def exec_module(self, module):
        pass


class _CompatFinder(importlib.abc.MetaPathFinder):
    """Intercepts only the handful of module names listed above."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PRE and fullname not in _POST and fullname not in _FALLBACK:
            return None
        spec = self._real_spec(fullname, path, target)
        if spec is None:
            if fullname in _FALLBACK:
                return importlib.machinery.ModuleSpec(fullname, _AliasLoader(_FALLBACK[fullname]))
            return None
        if (fullname in _PRE or fullname in _POST) and spec.loader is not None:
            spec.loader = _HookedLoader(fullname, spec.loader)
        return spec

    def _real_spec(self, fullname, path, target) -> Optional[importlib.machinery.ModuleSpec]:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None


_FINDER = _CompatFinder()


def is_installed() -> bool:
    return any(isinstance(f, _CompatFinder) for f in sys.meta_path)


def install() -> None:
    """Put the import hook first on ``sys.meta_path`` (idempotent).

    Modules imported before this call are patched on the spot where that is possible.
    """
    if is_installed():
        return
    _quiet_third_party_warnings()
    sys.meta_path.insert(0, _FINDER)
    for name, hook in _POST.items():
        module = sys.modules.get(name)
        if module is not None:
            hook(module)
    if 'mmagic' in sys.modules:
        _numpy_bool8(sys.modules['mmagic'])
