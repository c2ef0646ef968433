"""Location-contrastive loss (PatchNCE): a patch of B must match O's patch at the same place."""
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['LocationContrastiveLoss', 'multilevel_mean']


class LocationContrastiveLoss(nn.Module):
    """PatchNCE over the sampled locations of one feature level (spec §4.2).

    For query q_i (target image, e.g. B = G_B(O)) and keys k_j (source image O, same
    locations, detached here so gradients reach only the queries)::

        l_i = -log( exp(q_i.k_i / tau) / sum_j exp(q_i.k_j / tau) )

    The positive is the key at the same location; the negatives are the other keys of
    the *same* image (j != i). The released code masks the j = i negative with a logit of
    -10 / tau (weight exp(-10 / 0.07) ~ 1e-62); here it is left out exactly, which is the
    same loss to double precision. The result is the mean of l_i over all queries of all
    images, times ``loss_weight``. The identity term and the mean over feature levels are
    the caller's (see :func:`multilevel_mean`).

    Args:
        tau (float): Temperature (0.07).
        loss_weight (float): Multiplier (1.0).

    Shapes:
        forward: query, key (B, K, D) or (K, D), L2-normalised -> scalar.
    """

    def __init__(self, tau: float = 0.07, loss_weight: float = 1.0):
        super().__init__()
        if tau <= 0:
            raise ValueError(f'LocationContrastiveLoss tau must be > 0, got {tau}')
        self.tau = tau
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f'tau={self.tau}, loss_weight={self.loss_weight}'

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if query.shape != key.shape or query.dim() not in (2, 3):
            raise ValueError(f'query and key must both be (B, K, D) or (K, D), got '
                             f'{tuple(query.shape)} and {tuple(key.shape)}')
        if query.dim() == 2:
            query, key = query[None], key[None]
        b, k, _ = query.shape
        logits = torch.bmm(query, key.detach().transpose(1, 2)) / self.tau  # (B, K, K)
        target = torch.arange(k, device=query.device).repeat(b)
        return self.loss_weight * F.cross_entropy(logits.reshape(b * k, k), target)


def multilevel_mean(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    queries: Sequence[torch.Tensor],
                    keys: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean of ``loss_fn(q, k)`` over feature levels (the released reduction).

    Args:
        loss_fn (Callable): E.g. a :class:`LocationContrastiveLoss`.
        queries (Sequence[Tensor]): One (B, K, D) tensor per level.
        keys (Sequence[Tensor]): Same shapes as ``queries``.

    Returns:
        Tensor: Scalar.
    """
    if len(queries) != len(keys) or len(queries) == 0:
        raise ValueError(f'need the same non-zero number of query and key levels, got '
                         f'{len(queries)} and {len(keys)}')
    return torch.stack([loss_fn(q, k) for q, k in zip(queries, keys)]).mean()
