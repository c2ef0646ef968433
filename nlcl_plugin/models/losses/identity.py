"""Identity loss: a clean photograph passes G_B unchanged (beyond the paper)."""
from typing import Optional

import torch
import torch.nn as nn

__all__ = ['IdentityLoss']


class IdentityLoss(nn.Module):
    """loss_weight * mean|G_B(B_u) - B_u| on the unpaired clean image B_u, or with
    ``criterion='l2'`` loss_weight * mean (G_B(B_u) - B_u)^2.

    CycleGAN's identity-mapping loss (Zhu et al., ICCV 2017, section 5.2), which keeps a
    translation from changing the colour composition of an image already in the target
    domain. Here: a background generator that darkens, saturates or recolours whatever it
    is given also changes the clean photographs, and pays for it; one that removes rain
    and haze leaves them (nearly) as they are. The term reuses G_B(B_u), which the
    location loss's identity term already computes. Not part of NLCL: off unless a config
    sets ``identity_loss`` (``configs/nlcl_demo_long_identity.py``,
    ``configs/demo/nlcl_demo_identity.py``).

    The L1 form has a kink at G_B(B_u) = B_u: any light G_B removes from a clean image
    costs ``loss_weight`` per unit at once, however little it is. A generator whose
    removal is free per pixel starts there and is held there when that pull is larger
    than the adversarial push (``docs/training.md`` 4.19). The squared form costs
    nothing to first order at B_u, so a small removal can start, and grows with the
    change, so a large change of a clean image (texture, tone) costs the most.

    With a ``mask`` (``NLCLObjective(identity_mix=...)``: G_B was given clean blocks
    mixed into a rainy image) the mean runs over the masked pixels only.

    Args:
        loss_weight (float): Multiplier of the loss.
        criterion (str): 'l1' (mean absolute difference) or 'l2' (mean squared).

    Shapes:
        forward: identity G_B(B_u), clean B_u, both (N, C, H, W), optional mask
        (N, 1, H, W) of 0/1 -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0, criterion: str = 'l1'):
        super().__init__()
        if criterion not in ('l1', 'l2'):
            raise ValueError(f"IdentityLoss criterion must be 'l1' or 'l2', got {criterion!r}")
        self.loss_weight = loss_weight
        self.criterion = criterion

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}, criterion={self.criterion!r}'

    def forward(self, identity: torch.Tensor, clean: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args: identity (Tensor): G_B(B_u); clean (Tensor): B_u; mask (Tensor, optional):
        1 where the identity is asked for."""
        if identity.shape != clean.shape:
            raise ValueError(f'G_B(B_u) {tuple(identity.shape)} and B_u {tuple(clean.shape)} '
                             'must have the same shape')
        diff = identity - clean
        per_pixel = diff.square() if self.criterion == 'l2' else diff.abs()
        if mask is None:
            return self.loss_weight * per_pixel.mean()
        if mask.shape != (diff.shape[0], 1, *diff.shape[2:]):
            raise ValueError(f'identity mask {tuple(mask.shape)} must be (N, 1, H, W) of '
                             f'G_B(B_u) {tuple(identity.shape)}')
        total = (per_pixel * mask).sum()
        count = mask.sum() * diff.shape[1]
        return self.loss_weight * total / count.clamp(min=1)
