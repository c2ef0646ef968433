"""Idempotence loss: G_B leaves its own output as it is (beyond the paper)."""
import torch
import torch.nn as nn

__all__ = ['IdempotenceLoss']


class IdempotenceLoss(nn.Module):
    """loss_weight * mean|G_B(sg(B)) - sg(B)| with B = G_B(O).

    A background holds no rain, so a background generator applied to its own output
    should take nothing more away (idempotence, ``f(f(x)) = f(x)``, as in Shocher et
    al.'s Idempotent Generative Network, ICLR 2024). The identity loss
    (:class:`.IdentityLoss`) asks that of the unpaired clean photographs only; this term
    asks it of the rainy crops as G_B leaves them, whose texture the identity loss never
    sees. B enters without gradient: G_B is taught to leave such an image alone, not to
    remove more from the rainy one so that a second pass finds nothing. What G_B would
    still take from B, rain or texture, is pulled back alike per unit of light, so while
    B is close to O the term holds G_B's removal at 0 on the streaks as on the texture
    (measured on the demo's same-places cells: ``docs/training.md`` 4.16). Not part of
    NLCL: off unless a config sets ``idempotence_loss``.

    Args:
        loss_weight (float): Multiplier of the loss.

    Shapes:
        forward: again G_B(sg(B)), background B, both (N, C, H, W) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'

    def forward(self, again: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
        """Args: again (Tensor): G_B(sg(B)); bg (Tensor): B (detached here)."""
        if again.shape != bg.shape:
            raise ValueError(f'G_B(B) {tuple(again.shape)} and B {tuple(bg.shape)} must have '
                             'the same shape')
        return self.loss_weight * (again - bg.detach()).abs().mean()
