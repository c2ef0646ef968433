"""Sparsity loss: an L1 penalty that keeps the rain layer sparse."""
from typing import Optional

import torch
import torch.nn as nn

__all__ = ['SPARSITY_TARGETS', 'SparsityLoss']

SPARSITY_TARGETS = ('rainy_minus_bg', 'rain')


class SparsityLoss(nn.Module):
    """loss_weight * mean|rain layer| (spec §4.5).

    Which tensor stands for the rain layer (``target``):

    * ``'rainy_minus_bg'`` (released code, default): the implied rain O - B.
    * ``'rain'`` (framework figure): the rain generator's output R.

    Under the consistency loss R ~ O - B, so the two agree only approximately.

    Args:
        loss_weight (float): Multiplier (0.1 in the released model).
        target (str): One of :data:`SPARSITY_TARGETS`.

    Shapes:
        forward: rainy, bg, rain (N, C, H, W) -> scalar.
    """

    def __init__(self, loss_weight: float = 0.1, target: str = 'rainy_minus_bg'):
        super().__init__()
        if target not in SPARSITY_TARGETS:
            raise ValueError(f'SparsityLoss target must be one of {SPARSITY_TARGETS}, '
                             f'got {target!r}')
        self.loss_weight = loss_weight
        self.target = target

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, target={self.target!r}'

    def forward(self, rainy: torch.Tensor, bg: torch.Tensor,
                rain: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: rainy (Tensor): O; bg (Tensor): B; rain (Tensor, optional): R, needed
        with ``target='rain'``."""
        if self.target == 'rain':
            if rain is None:
                raise ValueError("SparsityLoss(target='rain') needs the rain layer")
            layer = rain
        else:
            layer = rainy - bg
        return self.loss_weight * layer.abs().mean()
