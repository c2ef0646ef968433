"""Identity on clean blocks mixed into a rainy image (beyond the paper).

The identity loss asks G_B to leave a clean photograph as it is. A generator that sees a
whole clean image can learn that a clean image is to be left alone and still take light
from the texture of a rainy one: on the demo's same-places cells, trained free-removal
generators remove about twice the light and change 1.5 to 2 times the texture of a clean
cell's pixels when rainy blocks of the same photograph stand beside them in one input
(``results/streak_screen/cell_mix/``). Mixing the two in one input, clean blocks and rainy
blocks of a random checkerboard, and asking for the identity on the clean blocks only, asks
G_B to decide where to remove light from what is there, not from what the image is.
Measured (``docs/training.md`` 4.24): it does that, and does not keep G_B off the texture of
rainy cells with little rain.
"""
from typing import Optional, Tuple

import torch

__all__ = ['mix_blocks']


def mix_blocks(rainy: torch.Tensor, clean: torch.Tensor, block: int,
               generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """X = M B_u + (1 - M) O, with M a random mask of ``block`` x ``block`` squares.

    The squares' grid is shifted by a random offset in [0, block) per image and each square
    is drawn clean with probability 1/2, independently per image.

    Args:
        rainy (Tensor): O, (N, C, H, W).
        clean (Tensor): B_u, (N, C, H, W), the same shape.
        block (int): Side of the squares in pixels (>= 1).
        generator (torch.Generator, optional): CPU random generator of the draws.

    Returns:
        tuple: X (N, C, H, W) and M (N, 1, H, W), 1 where X is B_u, 0 where it is O, on
        ``rainy``'s device and dtype.
    """
    if rainy.shape != clean.shape:
        raise ValueError(f'rainy {tuple(rainy.shape)} and clean {tuple(clean.shape)} must have '
                         'the same shape to be mixed (check the crop settings)')
    if int(block) != block or block < 1:
        raise ValueError(f'identity_mix block must be a positive integer, got {block}')
    n, _, h, w = rainy.shape
    offset = torch.randint(0, block, (n, 2), generator=generator)
    rows = (torch.arange(h)[None] + offset[:, :1]) // block  # (N, H)
    cols = (torch.arange(w)[None] + offset[:, 1:]) // block  # (N, W)
    grid = (h + block - 1) // block + 1, (w + block - 1) // block + 1
    draws = torch.rand((n, *grid), generator=generator) < 0.5  # (N, gh, gw)
    index = torch.arange(n)[:, None, None]
    mask = draws[index, rows[:, :, None], cols[:, None, :]]  # (N, H, W)
    mask = mask[:, None].to(device=rainy.device, dtype=rainy.dtype)
    return mask * clean + (1 - mask) * rainy, mask
