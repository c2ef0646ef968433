"""Thin light: the part of an image that a morphological opening removes.

Rain streaks and drops are thin and add light to the scene behind them. The white
top-hat ``T_k(x) = x - open_k(x)`` (``open_k`` = grey erosion then dilation with a
``k x k`` square, per channel) keeps exactly the bright structures narrower than ``k``
pixels, streaks and drops among them, together with bright fine texture; broad
structures, edges between flat regions and every dark structure give 0. A generator
that removes ``m * T_k(x)`` with a learned mask ``0 <= m <= 1`` can take a streak away
in one step of its mask, instead of having to synthesise what lies behind it; telling
rain from bright texture is then all that is left to learn.
"""
import torch
import torch.nn.functional as F

__all__ = ['opening', 'white_top_hat']


def _check_size(size: int) -> int:
    size = int(size)
    if size < 3 or size % 2 == 0:
        raise ValueError(f'the structuring element must be an odd size >= 3, got {size}')
    return size


def opening(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey opening of each channel with a ``size x size`` square (odd ``size``).

    Borders are replicated, so a structure touching the border is treated as if the
    image continued it. (N, C, H, W) -> (N, C, H, W); ``opening(x) <= x`` everywhere.
    """
    size = _check_size(size)
    pad = size // 2
    eroded = -F.max_pool2d(F.pad(-x, (pad,) * 4, mode='replicate'), size, stride=1)
    return F.max_pool2d(F.pad(eroded, (pad,) * 4, mode='replicate'), size, stride=1)


def white_top_hat(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x - opening(x, size)``: the bright structures narrower than ``size`` pixels,
    non-negative, (N, C, H, W) -> (N, C, H, W)."""
    return x - opening(x, size)
