"""Faster kernels and layouts for the networks' building blocks (same maths as the plain
ops).

* :func:`instance_norm`: non-affine InstanceNorm without running statistics. On CPU in
  float32/float64 outside autocast it is a custom autograd function that keeps the
  input's memory format (PyTorch's ``F.instance_norm`` reshapes to ``(1, N*C, H, W)``
  and silently turns a channels-last tensor back into NCHW, forcing a layout copy at
  every normalisation), computes the statistics in two passes (mean, then the mean
  squared deviation, both float32 cascade sums: as accurate as ``F.instance_norm``) and
  has a closed-form backward. Under CPU autocast (AMP) the same function runs on a
  float32 copy of the input and returns float32. On CUDA a channels-last map goes through
  the same function (below); elsewhere (NCHW maps on CUDA, half types on CPU) it is
  ``F.instance_norm`` itself.
* :func:`instance_norm_`: the same normalisation in place, fused with the ReLU or the
  residual addition that follows it and done in cache-sized chunks, for inference.
* :func:`keep_freed_memory`: an opt-in process setting of glibc's allocator (PyTorch's CPU
  tensors come straight from ``malloc``): freed blocks are kept for reuse instead of
  being returned to the kernel and faulted in again, zero-filled, at the next
  allocation. Training steps allocate and free gigabytes of activations; with glibc's
  defaults half of a batch-2 step on CPU was kernel time (page faults).
* :func:`preferred_format`: channels-last on CPU, where oneDNN runs these 3x3 and 4x4
  convolutions about 1.3x faster (forward; measured on the generator's 32-channel
  layers) than in NCHW, and on CUDA, where cuDNN picks NHWC kernels and otherwise
  converts every convolution's input and output (``nchwToNhwc`` / ``nhwcToNchw``
  kernels, a fifth of a batch-8 training step's GPU time on an H200); the inputs' own
  layout elsewhere. :class:`Conv2d` converts its input to it, so every network layer
  computes in that layout whether the network or a single layer is called; on CUDA it
  also keeps its weight in it (:func:`weight_format`), and the training step converts
  its images once (:func:`to_network_format`). :func:`set_channels_last` /
  :class:`channels_last` switch it per device type (``NLCL_CUDA_CHANNELS_LAST=0`` in the
  environment: NCHW on CUDA, as before).
* On CUDA, :func:`instance_norm` of a channels-last map is the same layout-keeping
  function (:func:`layout_keeping_instance_norm`), float32 statistics, the input's dtype
  out (PyTorch's ``F.instance_norm`` and ``F.group_norm`` return NCHW there).

Results agree with the plain ops to float32 rounding (a few 1e-7, see
``tests/test_inference_speedpaths.py``); nothing here changes what is computed.
"""
import itertools
import os
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = [
    'Conv2d', 'Moments', 'channels_last', 'channels_last_enabled', 'fast_paths',
    'fast_paths_enabled', 'instance_norm', 'instance_norm_', 'keep_freed_memory',
    'layout_keeping_instance_norm', 'memory_format_for', 'preferred_format',
    'set_channels_last', 'to_network_format', 'to_preferred_format', 'weight_format'
]

EPS = 1e-5

_ENABLED = True

#: Device types whose networks compute in channels-last, and for which dtypes.
_CHANNELS_LAST = {
    'cpu': True,
    'cuda': os.environ.get('NLCL_CUDA_CHANNELS_LAST', '1').strip() not in ('0', 'false', 'no'),
}
_CHANNELS_LAST_DTYPES = {
    'cpu': (torch.float32, torch.bfloat16),
    'cuda': (torch.float32, torch.float16, torch.bfloat16),
}
#: Device types where, beside each convolution's input, the convolutions' weights and the
#: training step's images are kept channels-last too (the library would otherwise convert
#: them at every call). On CPU oneDNN takes NCHW weights as they are.
_WHOLE_STEP_CHANNELS_LAST = ('cuda',)


class fast_paths:
    """Context manager switching this module's fast paths off (or on) in its scope.

    ``with fast_paths(False):`` the networks run the plain ops (NCHW, ``F.instance_norm``,
    no in-place inference path): the reference the benchmarks and tests compare with.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self._saved = None

    def __enter__(self):
        global _ENABLED
        self._saved, _ENABLED = _ENABLED, self.enabled
        return self

    def __exit__(self, *exc):
        global _ENABLED
        _ENABLED = self._saved
        return False


def fast_paths_enabled() -> bool:
    """Whether :class:`fast_paths` currently allows the fast paths."""
    return _ENABLED


def keep_freed_memory(enable: bool = True) -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse (process-wide, opt-in).

    Sets ``M_MMAP_MAX = 0`` (no per-allocation ``mmap``: large tensors come from the
    heap and are reused after being freed) and ``M_TRIM_THRESHOLD`` to 2 GiB (the heap
    is not shrunk after every large free). The process then keeps its peak memory
    allocated instead of paying page faults on every new activation; ``enable=False``
    restores glibc's defaults. Equivalent to starting the process with
    ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647``.

    Returns:
        bool: Whether the settings were applied (False where the C library is not glibc).
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    if enable:
        ok = mallopt(m_mmap_max, 0) and mallopt(m_trim_threshold, 2**31 - 1)
    else:
        ok = mallopt(m_mmap_max, 65536) and mallopt(m_trim_threshold, 128 * 1024)
    return bool(ok)


def channels_last_enabled(device_type: str) -> bool:
    """Whether the networks compute in channels-last on ``device_type`` ('cpu', 'cuda')."""
    return bool(_CHANNELS_LAST.get(device_type, False))


def set_channels_last(device_type: str, enabled: bool) -> bool:
    """Switch channels-last on or off for ``device_type``; returns the previous setting.

    Weights already on the device keep their layout until the module is moved again
    (``module.to(device)``); values do not depend on the layout.
    """
    if device_type not in _CHANNELS_LAST_DTYPES:
        raise ValueError(f'channels-last is chosen for {tuple(_CHANNELS_LAST_DTYPES)}, got '
                         f'{device_type!r}')
    saved = channels_last_enabled(device_type)
    _CHANNELS_LAST[device_type] = bool(enabled)
    return saved


class channels_last:
    """Context manager: channels-last on (or off) for ``device_type`` in its scope."""

    def __init__(self, device_type: str = 'cuda', enabled: bool = True):
        self.device_type = device_type
        self.enabled = bool(enabled)
        self._saved = None

    def __enter__(self):
        self._saved = set_channels_last(self.device_type, self.enabled)
        return self

    def __exit__(self, *exc):
        set_channels_last(self.device_type, self._saved)
        return False


def _device_type(device: Union[str, torch.device]) -> str:
    return torch.device(device).type if isinstance(device, str) else device.type


def memory_format_for(device: Union[str, torch.device],
                      dtype: torch.dtype = torch.float32) -> torch.memory_format:
    """Layout the networks compute in on ``device`` for 4-D ``dtype`` maps: channels-last
    on CPU (float32, bfloat16) and CUDA (also float16) unless switched off, else NCHW."""
    kind = _device_type(device)
    if _ENABLED and channels_last_enabled(kind) and dtype in _CHANNELS_LAST_DTYPES.get(kind, ()):
        return torch.channels_last
    return torch.contiguous_format


def preferred_format(x: torch.Tensor) -> torch.memory_format:
    """Layout the networks compute in for ``x``: :func:`memory_format_for` its device and
    dtype for 4-D tensors, NCHW for anything else."""
    if x.dim() != 4:
        return torch.contiguous_format
    return memory_format_for(x.device, x.dtype)


def weight_format(device: Union[str, torch.device]) -> torch.memory_format:
    """Layout :class:`Conv2d` keeps its weight in on ``device``: channels-last on CUDA
    (with channels-last on), where cuDNN would otherwise convert the weight, and its
    gradient back, at every call; NCHW elsewhere."""
    kind = _device_type(device)
    if kind in _WHOLE_STEP_CHANNELS_LAST:
        return memory_format_for(kind)
    return torch.contiguous_format


def to_network_format(x: torch.Tensor) -> torch.Tensor:
    """A training step's images in the networks' layout where the whole step runs in it
    (CUDA with channels-last), so that the losses' elementwise terms between images and
    network outputs do not mix layouts; unchanged elsewhere (on CPU each convolution
    converts its own input)."""
    if x.dim() != 4 or x.device.type not in _WHOLE_STEP_CHANNELS_LAST:
        return x
    fmt = preferred_format(x)
    return x if fmt is torch.contiguous_format else x.contiguous(memory_format=fmt)


def to_preferred_format(x: torch.Tensor) -> torch.Tensor:
    """``x`` in :func:`preferred_format` (a no-op when it already is)."""
    if not _ENABLED:
        return x.contiguous()
    fmt = preferred_format(x)
    if fmt is torch.contiguous_format:
        return x
    return x.contiguous(memory_format=fmt)


def split_batch(x: torch.Tensor, n: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(x[:n], x[n:])`` of a batched result, as one autograd node.

    Its backward concatenates the two halves' gradients; two slices would each build a
    zero-filled gradient of ``x``'s full size (in NCHW, whatever ``x``'s layout) and add
    them, which costs a training step several full-resolution passes over memory.
    """
    first, rest = x.split([n, x.shape[0] - n])
    return first, rest


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` computing in :func:`preferred_format` (channels-last on CPU and CUDA)
    whatever its input's layout; same parameters and state-dict keys. Moved to a device
    (``.to``, ``.cuda``), it keeps its weight in :func:`weight_format` there."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(to_preferred_format(x))

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        w = self.weight
        fmt = weight_format(w.device)
        if w.dim() == 4 and not w.is_contiguous(memory_format=fmt):
            with torch.no_grad():
                w.data = w.data.contiguous(memory_format=fmt)
                if w.grad is not None:
                    w.grad = w.grad.contiguous(memory_format=fmt)
        return out


def _flat(x: torch.Tensor) -> Tuple[torch.Tensor, int, bool]:
    """A (N, H*W, C) view of a channels-last tensor or a (N, C, H*W) view of an NCHW one,
    the dimension to reduce, and whether it is a view (else a contiguous copy)."""
    n, c, h, w = x.shape
    perm = x.permute(0, 2, 3, 1)
    if c > 1 and x.stride(1) == 1 and perm.is_contiguous():
        return perm.view(n, h * w, c), 1, True
    if x.is_contiguous():
        return x.view(n, c, h * w), 2, True
    return x.contiguous().view(n, c, h * w), 2, False


def _chunks(t3: torch.Tensor, dim: int, elements: int = 1 << 20):
    """Slices of ``t3`` along ``dim`` of about ``elements`` elements each."""
    n = t3.shape[dim]
    per = max(1, elements // max(1, t3.numel() // max(1, n)))
    for s in range(0, n, per):
        yield t3.narrow(dim, s, min(per, n - s))


class Moments:
    """Count, mean and sum of squared deviations, merged chunk by chunk (float64).

    Each chunk contributes its float32 two-pass mean and squared deviations (as
    :func:`instance_norm` computes them); chunks are merged with Chan et al.'s formula
    in float64, so the result hardly depends on how the data are split.

    Args:
        dim (int): The dimension reduced (statistics keep it as size 1).
    """

    def __init__(self, dim: int):
        self.dim = dim
        self.n = 0
        self.mean = None
        self.m2 = None

    def add(self, chunk: torch.Tensor) -> None:
        c = chunk.float()
        n_b = c.shape[self.dim]
        mean_b = c.mean(self.dim, keepdim=True)
        m2_b = (c - mean_b).square_().sum(self.dim, keepdim=True).double()
        mean_b = mean_b.double()
        if self.mean is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta.square() * (self.n * n_b / n)
        self.n = n

    def mean_rstd(self, eps: float = EPS) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, 1 / sqrt(var + eps)) in float32, biased variance."""
        if self.n <= 1:
            raise ValueError('InstanceNorm needs more than 1 spatial element')
        rstd = (self.m2 / self.n + eps).rsqrt()
        return self.mean.float(), rstd.float()


def _unflat(t: torch.Tensor, dim: int, shape: torch.Size) -> torch.Tensor:
    n, c, h, w = shape
    return t.view(n, h, w, c).permute(0, 3, 1, 2) if dim == 1 else t.view(shape)


def _fast_path(x: torch.Tensor, dtypes=(torch.float32, torch.float64)) -> bool:
    return (_ENABLED and x.dim() == 4 and x.device.type == 'cpu' and x.dtype in dtypes
            and (x.dtype == torch.bfloat16 or not torch.is_autocast_enabled('cpu'))
            and x.shape[2] * x.shape[3] > 1)


_HALF = (torch.float16, torch.bfloat16)


class _InstanceNorm(torch.autograd.Function):
    """y = (x - mean) / sqrt(var + eps) per (sample, channel), var biased; float16 and
    bfloat16 maps are normalised in float32 and returned (and their gradients) in their
    own dtype."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:
        x3, dim, _ = _flat(x)
        xf = x3.float() if x3.dtype in _HALF else x3
        y3 = xf - xf.mean(dim, keepdim=True)
        rstd = y3.square().mean(dim, keepdim=True).add_(eps).rsqrt_()
        y3.mul_(rstd)
        if y3.dtype != x3.dtype:
            y3 = y3.to(x3.dtype)
        ctx.save_for_backward(y3, rstd)
        ctx.dim, ctx.shape = dim, x.shape
        return _unflat(y3, dim, x.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        y3, rstd = ctx.saved_tensors
        dim = ctx.dim
        fmt = torch.channels_last if dim == 1 else torch.contiguous_format
        g3, gdim, _ = _flat(grad.contiguous(memory_format=fmt))
        if gdim != dim:  # degenerate layouts (C == 1): plain NCHW on both sides
            g3 = g3.reshape(y3.shape)
        out_dtype = g3.dtype
        if y3.dtype != rstd.dtype or g3.dtype != rstd.dtype:  # half maps: float32 maths
            g3, y3 = g3.to(rstd.dtype), y3.to(rstd.dtype)
        # dx = rstd * (g - mean(g) - y * mean(g * y))
        mean_gy = (g3 * y3).mean(dim, keepdim=True)
        gx3 = (g3 - g3.mean(dim, keepdim=True)).addcmul_(y3, mean_gy, value=-1.0).mul_(rstd)
        if gx3.dtype != out_dtype:
            gx3 = gx3.to(out_dtype)
        return _unflat(gx3, dim, ctx.shape), None


def layout_keeping_instance_norm(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Non-affine InstanceNorm of a (N, C, H, W) map on any device, in ``x``'s layout
    (channels-last stays channels-last) and dtype (float16 / bfloat16 normalised in
    float32), with a closed-form backward. What :func:`instance_norm` runs on CPU and, for
    channels-last maps, on CUDA."""
    if x.dim() != 4 or x.shape[2] * x.shape[3] <= 1:
        raise ValueError(f'expected a (N, C, H, W) map with more than one spatial element, '
                         f'got {tuple(x.shape)}')
    return _InstanceNorm.apply(x, eps)


def _channels_last_map(x: torch.Tensor) -> bool:
    return x.shape[1] > 1 and x.stride(1) == 1 and x.permute(0, 2, 3, 1).is_contiguous()


def instance_norm(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Non-affine InstanceNorm of (N, C, H, W) ``x`` (biased variance, ``eps`` 1e-5).

    Same values as ``F.instance_norm(x, eps=eps)`` (to rounding); keeps ``x``'s layout on
    CPU, and a channels-last ``x``'s on CUDA (:func:`layout_keeping_instance_norm`).
    Raises ``ValueError`` for a 1x1 map, as ``F.instance_norm`` does.
    """
    if _fast_path(x):
        return _InstanceNorm.apply(x, eps)
    if (_ENABLED and x.dim() == 4 and x.device.type != 'cpu' and x.shape[2] * x.shape[3] > 1
            and preferred_format(x) is torch.channels_last and _channels_last_map(x)):
        # F.instance_norm would return NCHW, and the next convolution convert it back
        return _InstanceNorm.apply(x, eps)
    if (_ENABLED and x.dim() == 4 and x.device.type == 'cpu' and x.shape[2] * x.shape[3] > 1
            and x.dtype in (torch.float32, torch.bfloat16) and torch.is_autocast_enabled('cpu')):
        # AMP: float32 maths on a float32 copy, float32 out (more accurate than CPU
        # autocast's own F.instance_norm, which returns bf16 for bf16 inputs), in the
        # input's layout (F.instance_norm's NCHW output costs a copy per layer)
        with torch.autocast('cpu', enabled=False):
            return _InstanceNorm.apply(x.float(), eps)
    return F.instance_norm(x, eps=eps)


@torch.no_grad()
def instance_norm_(x: torch.Tensor, eps: float = EPS, relu: bool = False,
                   residual: Optional[torch.Tensor] = None) -> torch.Tensor:
    """In-place :func:`instance_norm`, then ReLU (``relu``) or ``+ residual``, for inference.

    ``x`` must not be needed afterwards (nor require grad); returns ``x``. The work is
    done in cache-sized chunks: the mean (one pass), the squared deviations (one pass,
    chunk by chunk) and the normalisation with its ReLU or residual addition (one pass),
    instead of a memory-bound pass per operation over the whole map.
    """
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f'residual {tuple(residual.shape)} does not match {tuple(x.shape)}')
    x3, dim, is_view = (_flat(x) if _fast_path(x, (torch.float32, torch.float64, torch.bfloat16))
                        else (None, 0, False))
    r3 = None
    if is_view and residual is not None:
        r3, r_dim, r_view = _flat(residual)
        is_view = r_view and r_dim == dim and r3.shape == x3.shape
    if not is_view:
        out = instance_norm(x, eps) if x.dim() == 4 else F.instance_norm(x, eps=eps)
        if relu:
            out = F.relu(out)
        if residual is not None:
            out = out + residual
        return x.copy_(out)
    if x.dtype != torch.bfloat16:
        mean = x3.mean(dim, keepdim=True)
        sq = sum((part - mean).square_().sum(dim, keepdim=True) for part in _chunks(x3, dim))
        rstd = sq.div_(x3.shape[dim]).add_(eps).rsqrt_()
    else:  # statistics in float32, chunk by chunk
        moments = Moments(dim)
        for part in _chunks(x3, dim):
            moments.add(part)
        mean, rstd = moments.mean_rstd(eps)
    parts = _chunks(x3, dim)
    res_parts = _chunks(r3, dim) if r3 is not None else itertools.repeat(None)
    for part, res in zip(parts, res_parts):
        if x.dtype == torch.bfloat16:
            done = part.float().sub_(mean).mul_(rstd)
        else:
            done = part.sub_(mean).mul_(rstd)
        if relu:
            done.relu_()
        if res is not None:
            done.add_(res)
        if done is not part:
            part.copy_(done)
    return x
