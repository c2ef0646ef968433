"""A generator push that stops where B already looks as real as the clean photographs.

With LSGAN the generator's adversarial term is ``mean (D(B) - 1)^2`` over D's patch map.
D's scores on the clean photographs themselves sit below 1, so the term keeps pushing
every patch of B, also a patch that D cannot tell from a clean one: it asks B to be *more*
real than the clean photographs, which a generator that can only take light away obeys by
taking texture. The stopped term only pushes the patches that D scores below the level
``t`` that a share ``q`` of the clean photographs' patches fall under:

    L = mean over patches of  min(D(B) - t, 0)^2,   t = quantile_q(D(B_u)) (no gradient),

computed by the host's own LSGAN loss on ``real + min(D(B) - t, 0)`` (so its weight and
label apply unchanged). A patch scored at or above ``t`` is left alone; one below it is
pushed up until it reaches ``t``. (Like the relativistic GANs of Jolicoeur-Martineau,
ICLR 2019, the generator's target is set by D's scores on real images; here it is a floor,
not a margin.) On the demo's same-places cells, at the median, it keeps the drops cells'
texture only while the mask is low (``docs/training.md`` 4.16).
"""
import torch

__all__ = ['stopped_scores']


def stopped_scores(scores: torch.Tensor, real_scores: torch.Tensor, quantile: float,
                   real_label: float = 1.0) -> torch.Tensor:
    """``real_label + min(scores - t, 0)`` with ``t`` the ``quantile`` of ``real_scores``
    (detached): fed to an LSGAN loss with the real target, it gives
    ``mean(min(scores - t, 0)^2)`` (see the module docstring).

    Args:
        scores (Tensor): D's patch scores of B, any shape (with gradient).
        real_scores (Tensor): D's patch scores of the clean images, any shape.
        quantile (float): ``q`` in [0, 1].
        real_label (float): The LSGAN loss's real label (1 in NLCL).

    Returns:
        Tensor: the same shape as ``scores``.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f'the quantile must be in [0, 1], got {quantile}')
    real = real_scores.detach().flatten()
    if real.dtype not in (torch.float32, torch.float64):  # torch.quantile's dtypes (AMP)
        real = real.float()
    level = torch.quantile(real, quantile).to(scores.dtype)
    return real_label + torch.clamp(scores - level, max=0.0)
