"""The decomposition O = B + R of a training batch by G_B and G_R (host-independent).

Both host models call :func:`decompose`: G_R runs on O, G_B once on the batch [O; B_u]
(B_u, the unpaired clean crops, only when the location loss has its identity term), and
optionally G_B's location-loss taps of O and B_u are recorded from that same forward so
the loss does not compute them again.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .fast_ops import split_batch
from .generator import recording_features

__all__ = ['decompose']

Decomposition = Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]


def decompose(background: nn.Module,
              rain: nn.Module,
              rainy: torch.Tensor,
              clean: Optional[torch.Tensor] = None,
              feature_layers: Optional[Sequence[int]] = None
              ) -> Union[Decomposition, Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                                              List[List[torch.Tensor]]]]:
    """B = G_B(O), R = G_R(O) and G_B(B_u) (None without ``clean``).

    Args:
        background (nn.Module): G_B, bare or in a distributed wrapper.
        rain (nn.Module): G_R, bare or in a distributed wrapper.
        rainy (Tensor): O, (N, 3, H, W) in [-1, 1].
        clean (Tensor, optional): B_u, (N, 3, H, W) in [-1, 1] (same size as O).
        feature_layers (Sequence[int], optional): Also return G_B's outputs of these
            layers for O (and B_u), as ``[[taps of O], [taps of B_u]]``, each tap
            (N, C, H, W), in the order given.

    Returns:
        tuple: (B, R, G_B(B_u) or None), plus the taps when ``feature_layers`` is given.
    """
    if clean is not None and clean.shape[1:] != rainy.shape[1:]:
        raise ValueError(f'rainy {tuple(rainy.shape)} and clean {tuple(clean.shape)} '
                         'crops must have the same size (check the crop settings)')
    r = rain(rainy)
    n = rainy.shape[0]
    inputs = rainy if clean is None else torch.cat([rainy, clean], dim=0)
    if feature_layers is None:
        out = background(inputs)
        if clean is None:
            return out, r, None
        bg, identity = split_batch(out, n)
        return bg, r, identity
    layers = list(feature_layers)
    with recording_features(getattr(background, 'module', background), layers) as taps:
        out = background(inputs)
    if clean is None:
        return out, r, None, [[taps[i] for i in layers]]
    halves = [split_batch(taps[i], n) for i in layers]
    bg, identity = split_batch(out, n)
    return bg, r, identity, [[h[0] for h in halves], [h[1] for h in halves]]
