"""Streak light: the thin light that is elongated along the image's rain direction.

Rain streaks in one photograph fall along one direction. The thin light
``T_k(x)`` (:mod:`.thin_light`) keeps every bright structure narrower than ``k`` pixels,
streaks and bright fine texture alike. Opening it with a line of ``L`` pixels along a
direction ``theta`` keeps only the thin structures that are also at least ``L`` pixels
long along ``theta``:

    S_{k,L}(x) = open_{line(L, theta*)}(T_k(x)),
    theta* = argmax_theta  sum_pixels open_{line(L, theta)}(mean_c T_k(x))

``theta*`` is the direction along which the most thin light survives (one per image);
texture running along other directions, dots, corners and short structures give 0.
``0 <= S <= T_k(x)``. The angle convention is the renderer's: 0 is vertical, positive
angles move the lower end to the right, direction ``(sin theta, cos theta)`` in (x, y).

The opening gives each pixel the least light along the best of the line's segments
through it (erosion, then dilation), so a streak
whose light varies along its length, or which is wider than a pixel and not exactly along
``theta*``, keeps its core at a lowered level and loses its sides. The **restored** streak
light (:func:`restored_streak_light`) gives them back from the thin light around the core:

    S^r_n = D_n(min(T_k(x), g S_{k,L}(x))),   D(r) = min(max_{3x3}(r), T_k(x)),

the core raised ``g`` times (:data:`RESTORE_GAIN`, within the thin light), then grown
``n`` pixels within the thin light (geodesic dilation), ``S <= S^r_n <= T_k(x)``. Texture
counts only where it touches a streak's core.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .thin_light import white_top_hat

__all__ = ['STREAK_ANGLES', 'RESTORE_GAIN', 'line_offsets', 'line_opening', 'dominant_angle',
           'line_opening_along', 'streak_light', 'streak_light_of_thin', 'restored_streak_light',
           'GrayStreakLight']

#: Candidate directions in degrees: every 7.5 degrees over the half turn.
STREAK_ANGLES: Tuple[float, ...] = tuple(-90.0 + 7.5 * i for i in range(24))
#: How many times the line opening's level the restored streak light may rise to.
RESTORE_GAIN = 2.0


def line_offsets(length: int, angle_deg: float) -> List[Tuple[int, int]]:
    """Pixel offsets ``(dy, dx)`` of a line of ``length`` pixels through the origin along
    ``angle_deg``, symmetric (``(-dy, -dx)`` is in the set when ``(dy, dx)`` is), each
    once; an odd ``length >= 3``."""
    length = int(length)
    if length < 3 or length % 2 == 0:
        raise ValueError(f'the line must be an odd length >= 3, got {length}')
    theta = math.radians(angle_deg)
    c = length // 2
    offsets = []
    for t in range(-c, c + 1):
        o = (int(round(t * math.cos(theta))), int(round(t * math.sin(theta))))
        if o not in offsets:
            offsets.append(o)
    return offsets


def _extreme_over_offsets(x: torch.Tensor, offsets: Sequence[Tuple[int, int]],
                          take_min: bool) -> torch.Tensor:
    """min (or max) over the shifted copies ``x(p + o)``, borders replicated."""
    pad = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    h, w = x.shape[-2:]
    xp = F.pad(x, (pad,) * 4, mode='replicate') if pad else x
    out = None
    for dy, dx in offsets:
        v = xp[..., pad + dy:pad + dy + h, pad + dx:pad + dx + w]
        out = v if out is None else (torch.minimum(out, v) if take_min else torch.maximum(out, v))
    return out


def line_opening(x: torch.Tensor, length: int, angle_deg: float) -> torch.Tensor:
    """Grey opening of each channel with a line of ``length`` pixels along
    ``angle_deg``: erosion (min over the line) then dilation (max over it). Keeps the
    bright structures that hold a whole line along the direction; ``<= x``.
    (N, C, H, W) -> (N, C, H, W)."""
    offsets = line_offsets(length, angle_deg)
    # the line is symmetric, so dilation uses the same offsets as erosion
    return _extreme_over_offsets(_extreme_over_offsets(x, offsets, True), offsets, False)


def dominant_angle(thin: torch.Tensor, length: int,
                   angles: Sequence[float] = STREAK_ANGLES) -> torch.Tensor:
    """Index into ``angles`` of the direction along which the most of ``thin``'s channel
    mean survives a line opening, one per image: (N, C, H, W) -> (N,) long."""
    grey = thin.detach().mean(1, keepdim=True)
    energy = torch.stack([line_opening(grey, length, a).sum((1, 2, 3)) for a in angles], 1)
    return energy.argmax(1)


def streak_light(x: torch.Tensor, size: int, length: int,
                 angles: Sequence[float] = STREAK_ANGLES, restore: int = 0) -> torch.Tensor:
    """``S_{k,L}(x)``: the thin light of ``x`` (``k = size``) opened with a line of
    ``length`` pixels along each image's dominant direction (:func:`dominant_angle`),
    restored over ``restore`` steps when that is set (:func:`restored_streak_light`).
    (N, C, H, W) -> (N, C, H, W), ``0 <= S <= white_top_hat(x, size)``."""
    return streak_light_of_thin(white_top_hat(x, size), length, angles, restore)


def streak_light_of_thin(thin: torch.Tensor, length: int,
                         angles: Sequence[float] = STREAK_ANGLES,
                         restore: int = 0) -> torch.Tensor:
    """:func:`streak_light` from an image's thin light ``T_k(x)`` already computed:
    ``thin`` opened with a line of ``length`` pixels along each image's dominant
    direction, restored over ``restore`` steps when that is set.
    (N, C, H, W) -> (N, C, H, W)."""
    light = line_opening_along(thin, dominant_angle(thin, length, angles), length, angles)
    return restored_streak_light(thin, light, restore) if restore else light


def line_opening_along(x: torch.Tensor, index: torch.Tensor, length: int,
                       angles: Sequence[float] = STREAK_ANGLES) -> torch.Tensor:
    """Each image of ``x`` opened with a line of ``length`` pixels along its own direction
    ``angles[index[n]]`` (:func:`line_opening`): (N, C, H, W), (N,) -> (N, C, H, W)."""
    return torch.cat([line_opening(x[i:i + 1], length, angles[int(j)])
                      for i, j in enumerate(index)], 0)


def restored_streak_light(thin: torch.Tensor, streak: torch.Tensor, steps: int,
                          gain: float = RESTORE_GAIN) -> torch.Tensor:
    """``S^r_n``: the streak light ``streak`` (:func:`streak_light_of_thin` of ``thin``)
    raised ``gain`` times and grown ``steps`` pixels within the thin light ``thin``, each
    step ``r <- min(max_{3x3}(r), thin)`` (see the module docstring).
    (N, C, H, W) x 2 -> (N, C, H, W), ``streak <= result <= thin``."""
    if steps < 0:
        raise ValueError(f'steps must be >= 0, got {steps}')
    if gain < 1:
        raise ValueError(f'gain must be >= 1, got {gain}')
    restored = torch.minimum(thin, gain * streak)
    for _ in range(int(steps)):
        restored = torch.minimum(F.max_pool2d(restored, 3, 1, 1), thin)
    return restored


class GrayStreakLight(nn.Module):
    """The streak light of the channel mean, repeated over the channels: what a
    discriminator sees with ``disc_input='gray_streak_light'`` (thin bright structures
    that run along the image's dominant direction, nothing else: no tone, haze, colour,
    nor texture across that direction). Differentiable almost everywhere (the direction
    is chosen without gradient). No parameters.

    Args:
        size (int): The thin light's square (odd, >= 3).
        length (int): The line's length (odd, >= 3).

    Shapes:
        forward: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, size: int = 7, length: int = 21):
        super().__init__()
        line_offsets(length, 0.0)  # validates the length
        if size < 3 or size % 2 == 0:
            raise ValueError(f'the thin light needs an odd size >= 3, got {size}')
        self.size, self.length = int(size), int(length)

    def extra_repr(self) -> str:
        return f'size={self.size}, length={self.length}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = streak_light(x.mean(1, keepdim=True), self.size, self.length)
        return s.expand(-1, x.shape[1], -1, -1)
