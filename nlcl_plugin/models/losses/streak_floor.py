"""Streak floor loss: B keeps the share of streak light that clean photographs have
(beyond the paper)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..streak_light import dominant_angle, line_opening_along, streak_light_of_thin
from ..thin_light import white_top_hat

__all__ = ['StreakFloorLoss', 'streak_share']


def _share_and_light(x: torch.Tensor, size: int, length: int):
    """(:func:`streak_share`, mean T_k(g)) per image, both (N,)."""
    thin = white_top_hat(x.mean(1, keepdim=True), size)
    total = thin.mean((1, 2, 3))
    streak = streak_light_of_thin(thin, length).mean((1, 2, 3))
    return torch.where(total > 0, streak / total.clamp(min=1e-12), torch.zeros_like(total)), total


def streak_share(x: torch.Tensor, size: int, length: int) -> torch.Tensor:
    """mean S_{k,L}(g) / mean T_k(g) per image, g the channel mean of ``x``: the share of
    its thin light that runs along its dominant direction. (N, C, H, W) -> (N,); 0 where
    the image has no thin light."""
    return _share_and_light(x, size, length)[0]


class StreakFloorLoss(nn.Module):
    """loss_weight * mean_n relu(r mean T_k(O_n) - mean S_{k,L}(B_n; theta*(O_n))).

    Rain streaks add thin light along one direction; clean photographs have a share
    ``r`` of their thin light along their own dominant direction too (texture, edges,
    wires), and removing streak light below that share takes texture. ``r`` is the
    running mean, over every clean crop seen in training, of :func:`streak_share`
    (kept in the buffer ``clean_share``, counted in ``num_clean``). For each rainy crop
    the floor is ``r`` times O's mean thin light ``T_k`` (channel mean), and what B keeps
    of it is B's thin light opened with a line of ``length`` pixels along O's dominant
    direction ``theta*`` (chosen on O, without gradient): a crop whose streak light is
    no more than the clean photographs' share (no streaks, or drops) is held as it is; a
    crop with streaks may lose streak light down to that share, and the adversarial and
    contrastive terms decide where in the crop. The pull is the same per unit of light
    on a crop's rain as on its texture, and it does not stop on a crop whose share is
    below ``r`` from the start. Measured (``docs/training.md`` 4.17): to 1200 iterations
    it keeps the drops cells' texture that the adversarial push otherwise takes, and
    slows the mask's rise on the streaks too; at weight 10 it gives way from about 1600
    on, as the mask rises (4.18). Each process keeps its own running mean, of the clean
    crops it sees. Not part of NLCL: off unless a config sets ``streak_floor_loss``.

    Args:
        loss_weight (float): Multiplier of the loss.
        size (int): The thin light's square ``k`` (odd, >= 3; 7 as the generator's).
        length (int): The line's length ``L`` (odd, >= 3; 21 as the generator's).

    Shapes:
        forward: rainy O, background B, clean B_u, each (N, C, H, W) -> scalar.
        ``clean`` may be None once a clean crop has been seen (evaluation).
    """

    def __init__(self, loss_weight: float = 1.0, size: int = 7, length: int = 21):
        super().__init__()
        if size < 3 or size % 2 == 0:
            raise ValueError(f'StreakFloorLoss: size must be an odd number >= 3, got {size}')
        if length < 3 or length % 2 == 0:
            raise ValueError(f'StreakFloorLoss: length must be an odd number >= 3, got {length}')
        self.loss_weight = loss_weight
        self.size, self.length = int(size), int(length)
        self.register_buffer('clean_share', torch.zeros((), dtype=torch.float64))
        self.register_buffer('num_clean', torch.zeros((), dtype=torch.float64))

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, size={self.size}, length={self.length}'

    @torch.no_grad()
    def observe_clean(self, clean: torch.Tensor) -> None:
        """Add the clean crops' :func:`streak_share` to the running mean (those with thin
        light only)."""
        share, light = _share_and_light(clean, self.size, self.length)
        share = share.double()[light > 0]
        if share.numel():
            n = self.num_clean + share.numel()
            self.clean_share.mul_(self.num_clean / n).add_(share.sum() / n)
            self.num_clean.copy_(n)

    def forward(self, rainy: torch.Tensor, bg: torch.Tensor,
                clean: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: rainy (Tensor): O; bg (Tensor): B = G_B(O); clean (Tensor, optional):
        B_u, added to the running share in training mode."""
        if rainy.shape != bg.shape:
            raise ValueError(f'O {tuple(rainy.shape)} and B {tuple(bg.shape)} must have the '
                             'same shape')
        if clean is not None and self.training:
            self.observe_clean(clean)
        if self.num_clean.item() == 0:
            raise ValueError('StreakFloorLoss: no clean crop seen yet, pass the clean image')
        with torch.no_grad():
            thin_o = white_top_hat(rainy.mean(1, keepdim=True), self.size)
            index = dominant_angle(thin_o, self.length)
            floor = float(self.clean_share) * thin_o.mean((1, 2, 3))
        thin_b = white_top_hat(bg.mean(1, keepdim=True), self.size)
        kept = line_opening_along(thin_b, index, self.length).mean((1, 2, 3))
        return self.loss_weight * F.relu(floor - kept).mean()
