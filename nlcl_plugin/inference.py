"""Deraining photos with trained generators (host-independent).

The test path is the authors': input scaled to [-1, 1], B = G_B(O) clamped to [-1, 1],
mapped to [0, 255] and rounded. The rain layer R = G_R(O) is shown in image-intensity
units, R/2 clipped to [0, 1] (O = B + R holds in the [-1, 1] scale).

Speed and memory (:class:`Derainer`):

* default path: fp32, no autograd (``torch.inference_mode``), channels-last layout on
  CPU and CUDA, in-place normalisation / ReLU / residual additions (see
  :mod:`nlcl_plugin.models.fast_ops`); same values as the plain NCHW forward up to float32
  rounding (tests/test_inference_speedpaths.py);
* ``precision='bf16'`` (CPU or CUDA) / ``'fp16'`` (CUDA): autocast, opt-in, not exact;
* ``tile=N``: exact streamed inference in bands of N rows (:func:`streamed_forward`),
  the default on CPU (64 rows): same output, a fraction of the memory, and faster there;
  ``tile=0``: one forward over the whole image (the default on GPU).

Small images: a side shorter than ``min_size`` (default :data:`DEFAULT_MIN_SIZE`) is
padded as training pads crops (:func:`pad_reflect`: numpy's ``reflect``, the image
centred, a single-pixel axis replicated) and the output is cropped back, so any image of
at least 1x1 pixel is derained (InstanceNorm needs more than one pixel).
"""
import contextlib
from typing import Callable, Iterator, Optional, Tuple, Union

import numpy as np
import torch

from .models.checkpoint import build_generator
from .models.fast_ops import Moments, memory_format_for
from .models.generator import ConvNormConv, DecompositionGenerator, ResBlock

__all__ = [
    'DEFAULT_CPU_TILE', 'DEFAULT_MIN_SIZE', 'PRECISIONS', 'image_to_tensor', 'tensor_to_image',
    'rain_to_image', 'pad_reflect', 'Derainer', 'streamed_forward'
]

#: Accepted ``precision`` values of :class:`Derainer`.
PRECISIONS = ('fp32', 'bf16', 'fp16')

#: Band height :class:`Derainer` streams with on CPU unless told otherwise.
DEFAULT_CPU_TILE = 64

#: Shortest side :class:`Derainer` runs the network on; smaller images are padded.
DEFAULT_MIN_SIZE = 16

_EPS = 1e-5


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (1, 3, H, W) in [-1, 1].

    The result is channels-last in memory (the (H, W, 3) array's own order, no copy
    before the conversion to float); its values and shape are the usual NCHW ones.
    """
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0)
    return t.float().div_(127.5).sub_(1.0)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> uint8 (H, W, 3): clamp, map to [0, 255], round."""
    t = t.detach().float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round()
    return t[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def rain_to_image(t: torch.Tensor) -> np.ndarray:
    """Rain layer (1, 3, H, W) in [-1, 1]-scale units -> uint8 (H, W, 3) of R/2 in [0, 1]."""
    t = t.detach().float().mul(0.5).clamp(0.0, 1.0).mul(255.0).round()
    return t[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


# --------------------------------------------------------------------------- padding
def _reflect_index(n: int, before: int, after: int) -> np.ndarray:
    """Source indices of an axis of length ``n`` padded by ``before`` / ``after`` as
    ``numpy.pad(mode='reflect')`` pads it: mirrored without repeating the border pixel,
    back and forth when the padding is wider than the axis; ``n == 1`` is replicated."""
    pos = np.arange(-before, n + after)
    if n == 1:
        return np.zeros_like(pos)
    period = 2 * (n - 1)
    q = np.mod(pos, period)
    return np.where(q < n, q, period - q)


def pad_reflect(image, min_size: int):
    """Pad ``image`` so that both sides are at least ``min_size``, as training pads.

    The image is centred (an odd extra pixel goes after it) and padded with numpy's
    ``reflect`` (a single-pixel axis is replicated), as ``RandomCropOrPad`` pads crops.

    Args:
        image (np.ndarray | Tensor): (H, W, C) array or (N, C, H, W) tensor.
        min_size (int): Shortest side wanted (>= 1).

    Returns:
        tuple: (padded image, (top, left, H, W)): the original sits at rows
        ``top:top + H`` and columns ``left:left + W`` of the padded one. Without padding
        the image itself is returned.
    """
    is_array = isinstance(image, np.ndarray)
    h, w = image.shape[:2] if is_array else image.shape[-2:]
    pad_h, pad_w = max(0, min_size - h), max(0, min_size - w)
    top, left = pad_h // 2, pad_w // 2
    if not (pad_h or pad_w):
        return image, (0, 0, h, w)
    rows = _reflect_index(h, top, pad_h - top)
    cols = _reflect_index(w, left, pad_w - left)
    if is_array:
        return image[rows][:, cols], (top, left, h, w)
    rows_t = torch.from_numpy(rows).to(image.device)
    cols_t = torch.from_numpy(cols).to(image.device)
    return image.index_select(-2, rows_t).index_select(-1, cols_t), (top, left, h, w)


# --------------------------------------------------------------------------- streaming
class _Moments(Moments):
    """Per-channel :class:`~nlcl_plugin.models.fast_ops.Moments` of (1, C, h, W) bands."""

    def __init__(self):
        super().__init__(dim=0)

    def add(self, band: torch.Tensor) -> None:
        super().add(band.permute(0, 2, 3, 1).reshape(-1, band.shape[1]))

    def mean_rstd(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, 1 / sqrt(var + eps)) as float32 (1, C, 1, 1)."""
        mean, rstd = super().mean_rstd(_EPS)
        return mean.view(1, -1, 1, 1), rstd.view(1, -1, 1, 1)


def _bands(height: int, rows: int) -> Iterator[Tuple[int, int]]:
    for r0 in range(0, height, rows):
        yield r0, min(r0 + rows, height)


def _conv_rows(conv: torch.nn.Module, src: torch.Tensor, r0: int, r1: int,
               transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
               ) -> torch.Tensor:
    """Rows [r0, r1) of ``conv(transform(src))`` (3x3, zero padding 1) from src rows
    r0 - 1 .. r1 (the halo one conv needs); ``transform`` must not modify its input."""
    lo, hi = max(r0 - 1, 0), min(r1 + 1, src.shape[2])
    inp = src[:, :, lo:hi]
    if transform is not None:
        inp = transform(inp)
    return conv(inp)[:, :, r0 - lo:r1 - lo]


def _norm(mean: torch.Tensor, rstd: torch.Tensor, relu: bool):
    def apply(t: torch.Tensor) -> torch.Tensor:
        out = (t - mean).mul_(rstd)
        return out.relu_() if relu else out
    return apply


def _stream_conv(conv: torch.nn.Module, src: torch.Tensor, dst: torch.Tensor, rows: int,
                 transform=None, moments: Optional[_Moments] = None) -> None:
    """dst = conv(transform(src)) band by band; ``dst`` may be ``src`` (in place).

    In place, each band's result is held back until the next band has read its last
    row (the next band's halo), so every band reads the old values.
    """
    pending = None
    for r0, r1 in _bands(src.shape[2], rows):
        out = _conv_rows(conv, src, r0, r1, transform)
        if moments is not None:
            moments.add(out)
        if dst is not src:
            dst[:, :, r0:r1].copy_(out)
            continue
        if pending is not None:
            dst[:, :, pending[0]:pending[1]].copy_(pending[2])
        pending = (r0, r1, out)
    if pending is not None:
        dst[:, :, pending[0]:pending[1]].copy_(pending[2])


def _generator_parts(net: DecompositionGenerator):
    layers = list(net.layers)
    blocks, tail = layers[1:-2], layers[-2]
    if not (all(isinstance(b, ResBlock) for b in blocks) and isinstance(tail, ConvNormConv)):
        raise TypeError('streamed inference needs a DecompositionGenerator '
                        '(conv, ResBlocks, conv-IN-ReLU-conv tail, conv)')
    return layers[0], blocks, tail, layers[-1]


@torch.no_grad()
def streamed_forward(net: DecompositionGenerator,
                     read_rows: Callable[[int, int], torch.Tensor],
                     height: int,
                     width: int,
                     rows: int,
                     write_rows: Callable[[int, int, torch.Tensor], None],
                     device: Optional[torch.device] = None) -> None:
    """Exact G(x) band by band, with every InstanceNorm over the whole image.

    **How the statistics are handled.** Every InstanceNorm of G normalises with the
    mean and variance of its input over the *whole* image, and each layer's statistics
    depend on every earlier layer's, so no per-tile forward can be exact, and statistics
    estimated before the forward are not good enough either: on a real 1024x1024 photo
    with the released weights, the statistics of a 2x-downscaled copy give 34 dB PSNR
    against the plain forward (errors up to 69 grey levels), those of a 50 % sample of
    128-pixel tiles 45 dB (up to 86 levels). So the network is run *layer by layer over
    the whole image* instead of tile by tile:

    * two full-resolution feature maps are kept (the residual stream h and a work map,
      C x H x W float32 each: 256 bytes per pixel for C = 32, 3.1 GB at 4000x3000; the
      process peaked at about 3.4 GiB there, against 7.6 GiB for the whole-image in-place
      forward and far more for a forward that records autograd);
    * each 3x3 convolution is computed in bands of ``rows`` rows, reading one halo row
      above and below (the convolution's receptive field; zero padding at the image
      border as in the plain forward), and writes its output into a map - in place
      where its input is no longer needed, a band's result being held back until the
      next band has read its halo row;
    * while a convolution feeding an InstanceNorm streams out, the per-channel count,
      mean and squared deviations of each band are merged (:class:`_Moments`, float64),
      so the statistics are the whole image's; the normalisation (and ReLU) is applied
      on the fly when the next convolution reads the map.

    The result equals the plain forward up to float32 rounding (the convolutions are
    the same; only the order of the statistics' summation differs): max |diff| around
    1e-6 on [-1, 1] outputs, i.e. the same 8-bit image but for rare rounding ties. The
    work is that of one plain forward plus one elementwise pass per residual block.

    Args:
        net (DecompositionGenerator): G_B or G_R (eval mode).
        read_rows (Callable): ``read_rows(r0, r1)`` -> (1, in_channels, r1 - r0, W)
            float input rows on ``device``.
        height (int): H of the image; width (int): W.
        rows (int): Band height (>= 1); memory of the temporaries grows with it.
        write_rows (Callable): ``write_rows(r0, r1, out)`` receives the output rows
            (1, out_channels, r1 - r0, W) as they are ready (each row once).
        device (torch.device, optional): Device of the maps (default: the net's).
    """
    if rows < 1:
        raise ValueError(f'tile must be >= 1 rows, got {rows}')
    first, blocks, tail, last = _generator_parts(net)
    if device is None:
        device = next(net.parameters()).device
    mid = first.out_channels
    fmt = memory_format_for(device)
    shape = (1, mid, height, width)
    h = torch.empty(shape, device=device).contiguous(memory_format=fmt)
    work = torch.empty(shape, device=device).contiguous(memory_format=fmt)

    # conv0: from the input, read band by band with its halo
    for r0, r1 in _bands(height, rows):
        lo, hi = max(r0 - 1, 0), min(r1 + 1, height)
        h[:, :, r0:r1].copy_(first(read_rows(lo, hi))[:, :, r0 - lo:r1 - lo])

    for block in blocks:
        s1 = _Moments()
        _stream_conv(block.conv1, h, work, rows, moments=s1)
        s2 = _Moments()
        _stream_conv(block.conv2, work, work, rows, _norm(*s1.mean_rstd(), relu=True), s2)
        mean2, rstd2 = s2.mean_rstd()
        for r0, r1 in _bands(height, rows):
            h[:, :, r0:r1].add_((work[:, :, r0:r1] - mean2).mul_(rstd2))

    s = _Moments()
    _stream_conv(tail.conv1, h, work, rows, moments=s)
    _stream_conv(tail.conv2, work, h, rows, _norm(*s.mean_rstd(), relu=True))
    if not net.combines_rowwise:
        # the output needs more than the band's own rows: gather the last layer's few
        # channels, combine once
        out = torch.cat([_conv_rows(last, h, r0, r1) for r0, r1 in _bands(height, rows)], 2)
        write_rows(0, height, net.combine(read_rows(0, height), out))
        return
    for r0, r1 in _bands(height, rows):
        out = _conv_rows(last, h, r0, r1)
        write_rows(r0, r1, net.combine(read_rows(r0, r1), out))


# --------------------------------------------------------------------------- derainer
class Derainer:
    """Runs G_B (and optionally G_R) on whole photos.

    Args:
        background (DecompositionGenerator): G_B.
        rain (DecompositionGenerator, optional): G_R; needed only for the rain layer.
        device (str): 'cpu' or 'cuda[:i]'.
        precision (str): 'fp32' (default; exact), or opt-in reduced precision through
            autocast: 'bf16' (CPU with AVX-512 BF16 / AMX, or CUDA) or 'fp16' (CUDA only).
        tile (int, optional): Stream the photo in bands of ``tile`` rows with exact
            whole-image InstanceNorm statistics (:func:`streamed_forward`): same result
            as one forward over the whole image (to float32 rounding), peak memory about
            256 bytes per pixel plus the process's baseline (3.4 GiB for a 4000x3000
            photo instead of 7.6 GiB), and on CPU faster (the bands stay in cache and
            no large tensor is allocated per layer). 0: one forward over the whole
            image. None (default): :data:`DEFAULT_CPU_TILE` rows on CPU, the whole
            image on other devices.
        threads (int, optional): CPU threads for torch during a call (restored after);
            default: leave torch's setting.
        min_size (int): Images with a side shorter than this are padded to it
            (:func:`pad_reflect`, as training pads) and the outputs cropped back
            (default :data:`DEFAULT_MIN_SIZE`; >= 2 so that InstanceNorm has statistics).
        compile (bool, str or dict): ``torch.compile`` the networks for the whole-image
            path (``tile=0``, the default on GPUs): True, a mode ('max-autotune', ...) or
            a dict of ``torch.compile`` arguments. The first photo of each size pays the
            compilation; the streamed path is not compiled. Default False.
    """

    def __init__(self,
                 background: DecompositionGenerator,
                 rain: Optional[DecompositionGenerator] = None,
                 device: str = 'cpu',
                 precision: str = 'fp32',
                 tile: Optional[int] = None,
                 threads: Optional[int] = None,
                 min_size: int = DEFAULT_MIN_SIZE,
                 compile: Union[bool, str, dict] = False):
        self.device = torch.device(device)
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
        if precision == 'fp16' and self.device.type != 'cuda':
            raise ValueError("precision='fp16' needs a CUDA device; use 'bf16' on CPU")
        if tile is not None and tile < 0:
            raise ValueError(f'tile must be >= 1 (or 0 for the whole image), got {tile}')
        if tile is None:
            tile = DEFAULT_CPU_TILE if self.device.type == 'cpu' else 0
        if threads is not None and threads < 1:
            raise ValueError(f'threads must be >= 1, got {threads}')
        if min_size < 2:
            raise ValueError(f'min_size must be >= 2 (InstanceNorm needs more than one '
                             f'pixel), got {min_size}')
        self.min_size = int(min_size)
        self.precision = precision
        self.tile = tile or None
        self.threads = threads
        self.background = background.eval().to(self.device)
        self.rain = rain.eval().to(self.device) if rain is not None else None
        if compile and not isinstance(compile, (bool, str, dict)):
            raise ValueError(f'compile must be a bool, a mode or a dict, got {compile!r}')
        self.compile = (dict(mode=compile) if isinstance(compile, str)
                        else dict(compile) if isinstance(compile, dict)
                        else {} if compile else None)
        self._compiled = {}

    def _whole(self, net: DecompositionGenerator) -> Callable[[torch.Tensor], torch.Tensor]:
        """``net``, or its ``torch.compile`` (made once) with ``compile``."""
        if self.compile is None:
            return net
        if id(net) not in self._compiled:
            self._compiled[id(net)] = torch.compile(net, **self.compile)
        return self._compiled[id(net)]

    @classmethod
    def from_checkpoints(cls,
                         checkpoint: str,
                         rain_checkpoint: Optional[str] = None,
                         device: str = 'cpu',
                         with_rain: bool = False,
                         ema: Optional[bool] = None,
                         trust: bool = False,
                         **options) -> 'Derainer':
        """Build from the authors' files or a plugin checkpoint (which holds both nets).

        Args:
            checkpoint (str): G_B weights: official ``latest_net_Back.pth``, an exported
                generator, or a training checkpoint of the plugin.
            rain_checkpoint (str, optional): G_R weights; defaults to ``checkpoint`` when
                that is a training checkpoint holding both generators.
            with_rain (bool): Also load G_R.
            ema (bool, optional): For training checkpoints with moving averages of the
                generators' weights (``is_use_ema``): None (default) uses the averages,
                False the raw weights.
            trust (bool): Load the files with full unpickling (``--trust-checkpoint``:
                only for trusted files); by default they are loaded weights-only.
            **options: ``precision``, ``tile``, ``threads``, ``min_size``, ``compile`` (see
                the class).
        """
        # The generators' form (plain, or residual B = O + net(O)) comes with the weights.
        background = build_generator(checkpoint, role='background', ema=ema, trust=trust)
        rain = None
        if with_rain:
            rain = build_generator(rain_checkpoint or checkpoint, role='rain', ema=ema,
                                   trust=trust)
        return cls(background, rain, device, **options)

    @contextlib.contextmanager
    def _context(self):
        saved = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                if self.precision == 'fp32':
                    yield
                else:
                    dtype = torch.bfloat16 if self.precision == 'bf16' else torch.float16
                    with torch.autocast(device_type=self.device.type, dtype=dtype):
                        yield
        finally:
            if self.threads is not None:
                torch.set_num_threads(saved)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the device, in the networks' layout there (channels-last on CPU and
        CUDA, :func:`~nlcl_plugin.models.fast_ops.memory_format_for`; NCHW elsewhere)."""
        x = x.to(self.device)
        if self.device.type == 'cpu':
            return x  # a channels-last view already; each convolution converts its input
        return x.contiguous(memory_format=memory_format_for(self.device, x.dtype))

    def forward_tensor(self, net: DecompositionGenerator, x: torch.Tensor) -> torch.Tensor:
        """``net(x)`` on this derainer's path (precision, tiling), float32 (1, 3, H, W).

        ``x``: (1, 3, H, W) in [-1, 1] on any device, H, W >= 1 (a side shorter than
        ``min_size`` is padded and the output cropped back).
        """
        x, (top, left, h, w) = pad_reflect(x, self.min_size)
        out = self._forward_tensor(net, x)
        return out[:, :, top:top + h, left:left + w]

    def _forward_tensor(self, net: DecompositionGenerator, x: torch.Tensor) -> torch.Tensor:
        with self._context():
            x = self._input(x)
            if self.tile is None:
                return self._whole(net)(x).float()
            _, _, height, width = x.shape
            out = torch.empty((1, net.out_channels, height, width),
                              device=self.device)

            def write(r0, r1, band):
                out[:, :, r0:r1].copy_(band)

            streamed_forward(net, lambda r0, r1: x[:, :, r0:r1], height, width, self.tile,
                             write, self.device)
            return out

    def _run(self, net: DecompositionGenerator, rgb: np.ndarray,
             to_image: Callable[[torch.Tensor], np.ndarray]) -> np.ndarray:
        if self.tile is None:
            return to_image(self._whole(net)(self._input(image_to_tensor(rgb))))
        height, width = rgb.shape[:2]
        out = np.empty((height, width, 3), np.uint8)

        def read(r0, r1):
            return self._input(image_to_tensor(rgb[r0:r1]))

        def write(r0, r1, band):
            out[r0:r1] = to_image(band)

        streamed_forward(net, read, height, width, self.tile, write, self.device)
        return out

    def __call__(self, rgb: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Derain one uint8 RGB image (H, W, 3), H, W >= 1; returns (background, rain or
        None), each (H, W, 3) uint8 (a side shorter than ``min_size`` is padded for the
        network and cropped back)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
            raise ValueError(f'expected an (H, W, 3) image with H, W >= 1, got {rgb.shape}')
        rgb, (top, left, h, w) = pad_reflect(rgb, self.min_size)
        with self._context():
            bg = self._run(self.background, rgb, tensor_to_image)
            rain = self._run(self.rain, rgb, rain_to_image) if self.rain is not None else None
        crop = (slice(top, top + h), slice(left, left + w))
        return bg[crop], (None if rain is None else rain[crop])

