"""Identity loss: a clean photograph passes G_B unchanged (beyond the paper)."""
import torch
import torch.nn as nn

__all__ = ['IdentityLoss']


class IdentityLoss(nn.Module):
    """loss_weight * mean|G_B(B_u) - B_u| on the unpaired clean image B_u.

    CycleGAN's identity-mapping loss (Zhu et al., ICCV 2017, section 5.2), which keeps a
    translation from changing the colour composition of an image already in the target
    domain. Here: a background generator that darkens, saturates or recolours whatever it
    is given also changes the clean photographs, and pays for it; one that removes rain
    and haze leaves them (nearly) as they are. The term reuses G_B(B_u), which the
    location loss's identity term already computes. Not part of NLCL: off unless a config
    sets ``identity_loss`` (``configs/nlcl_demo_long_identity.py``,
    ``configs/demo/nlcl_demo_identity.py``).

    Args:
        loss_weight (float): Multiplier of the loss.

    Shapes:
        forward: identity G_B(B_u), clean B_u, both (N, C, H, W) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'

    def forward(self, identity: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Args: identity (Tensor): G_B(B_u); clean (Tensor): B_u."""
        if identity.shape != clean.shape:
            raise ValueError(f'G_B(B_u) {tuple(identity.shape)} and B_u {tuple(clean.shape)} '
                             'must have the same shape')
        return self.loss_weight * (identity - clean).abs().mean()
