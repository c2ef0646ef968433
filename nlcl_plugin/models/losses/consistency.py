"""Consistency (reconstruction) loss: the two layers must add up to the rainy image."""
import torch
import torch.nn as nn

__all__ = ['ConsistencyLoss']


class ConsistencyLoss(nn.Module):
    """loss_weight * mean((B + R - O)^2) (spec §4.4; weight 1 in the released model).

    Args:
        loss_weight (float): Multiplier of the loss.

    Shapes:
        forward: bg, rain, rainy all (N, C, H, W) (or any equal shapes) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, bg: torch.Tensor, rain: torch.Tensor, rainy: torch.Tensor) -> torch.Tensor:
        """Args: bg (Tensor): B = G_B(O); rain (Tensor): R = G_R(O); rainy (Tensor): O."""
        return self.loss_weight * (bg + rain - rainy).square().mean()
