"""Projection heads: one MLP per tapped feature level, built eagerly."""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ProjectionHeads', 'l2_normalize']


def l2_normalize(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """x / (||x||_2 + eps) over the last dimension."""
    return x / (x.norm(p=2, dim=-1, keepdim=True) + eps)


class ProjectionHeads(nn.Module):
    """Linear(C_l -> hidden) -> ReLU -> Linear(hidden -> out), one per level, L2-normalised.

    Args:
        in_channels (Sequence[int]): C_l of each feature level, e.g. (32,)*5 for the
            location loss or (3, 64, 128, 256, 512) for the layer loss.
        out_channels (int): Embedding size D (256).
        hidden_channels (int): Hidden width (256).
        init_gain (float): xavier-normal gain (0.02); biases 0.

    Shapes:
        forward: list of (..., C_l) -> list of (..., D), unit L2 norm.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int = 256,
                 hidden_channels: int = 256,
                 init_gain: float = 0.02):
        super().__init__()
        self.in_channels = tuple(int(c) for c in in_channels)
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, hidden_channels), nn.ReLU(inplace=True),
                          nn.Linear(hidden_channels, out_channels)) for c in self.in_channels)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight, gain=init_gain)
                nn.init.zeros_(m.bias)

    def __len__(self) -> int:
        return len(self.mlps)

    def forward(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        if len(feats) != len(self.mlps):
            raise ValueError(f'got {len(feats)} feature levels, heads have {len(self.mlps)}')
        return [l2_normalize(mlp(f)) for mlp, f in zip(self.mlps, feats)]
