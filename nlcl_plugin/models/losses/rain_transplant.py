"""Rain transplant loss: what G_B removes from a rainy image, it removes from a clean one
(beyond the paper)."""
import torch
import torch.nn as nn

__all__ = ['RainTransplantLoss', 'transplant']


def transplant(clean: torch.Tensor, rainy: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
    """B_u + sg(O - B), clamped to the image range [-1, 1].

    The layer that G_B removed from the rainy crop O (its streaks and haze as far as G_B
    has learnt them), without gradient, laid over the unpaired clean crop B_u.

    Shapes:
        clean, rainy, bg: (N, C, H, W), all the same -> (N, C, H, W).
    """
    if not clean.shape == rainy.shape == bg.shape:
        raise ValueError(f'B_u {tuple(clean.shape)}, O {tuple(rainy.shape)} and B '
                         f'{tuple(bg.shape)} must have the same shape')
    return (clean + (rainy - bg).detach()).clamp(-1.0, 1.0)


class RainTransplantLoss(nn.Module):
    """loss_weight * mean|G_B(B_u + sg(O - B)) - B_u|.

    The removed layer O - B of the rainy crop, laid over the unpaired clean crop, must be
    removed again, and nothing else (the "re-raining" half of the cycle of unsupervised
    deraining translations such as DerainCycleGAN, Wei et al., TIP 2021, with the rain
    layer taken from G_B itself). It asks G_B for one removal operator on every image: a
    change that G_B applies whatever the input (a global tone shift, sharpening of every
    edge) changes the clean crop and is paid for; removing the transplanted streaks and
    haze is free. Unlike the identity loss (:class:`.IdentityLoss`, its limit while B = O)
    it does not pull back what G_B removes. Not part of NLCL: off unless a config sets
    ``transplant_loss``.

    Args:
        loss_weight (float): Multiplier of the loss.

    Shapes:
        forward: restored G_B(B_u + sg(O - B)), clean B_u, both (N, C, H, W) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'

    def forward(self, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Args: restored (Tensor): G_B(B_u + sg(O - B)); clean (Tensor): B_u."""
        if restored.shape != clean.shape:
            raise ValueError(f'G_B(B_u + O - B) {tuple(restored.shape)} and B_u '
                             f'{tuple(clean.shape)} must have the same shape')
        return self.loss_weight * (restored - clean).abs().mean()
