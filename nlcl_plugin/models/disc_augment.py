"""Random flips and quarter turns of what the discriminator judges (beyond the paper).

Where the clean and rainy crops show the same places (so that content no longer tells
the folders apart), NLCL's PatchGAN discriminator learns its few dozen clean crops by
heart instead: it scores them far above held-out clean crops of the same photographs
(``docs/training.md`` 4.12). Judging every real and fake image under one of the eight
symmetries of the square, drawn per image, gives it eight times as many distinct real
patches to learn, while a rain streak stays a thin line under each of them. Real and fake
images are drawn from the same distribution of symmetries, so D cannot use the transform
itself as a cue (the differentiable-augmentation argument of Zhao et al., NeurIPS 2020).
Measured: D then sees rain and little else, but in training its push on G_B is weaker.
"""
from typing import Optional

import torch
from torch import nn

__all__ = ['DISC_AUGMENTS', 'DihedralAugment', 'build_disc_augment']

#: What may be done to the images D scores in training ('none': nothing, as in the paper).
DISC_AUGMENTS = ('none', 'dihedral')


class DihedralAugment(nn.Module):
    """Each image of a batch under one of the 8 symmetries of the square, drawn uniformly
    and independently (a flip of the columns, then 0-3 quarter turns); on non-square
    images only the 4 that keep the shape (flips of rows and/or columns). Differentiable
    (a permutation of pixels). Identity in eval mode.

    Shapes:
        forward: (N, C, H, W) -> (N, C, H, W).
    """

    def forward(self, x: torch.Tensor, generator: Optional[torch.Generator] = None
                ) -> torch.Tensor:
        if not self.training:
            return x
        n, square = x.shape[0], x.shape[-1] == x.shape[-2]
        draws = torch.randint(0, 8 if square else 4, (n,), generator=generator).tolist()
        out = []
        for i, k in enumerate(draws):
            y = x[i:i + 1]
            if k & 1:
                y = y.flip(-1)
            y = torch.rot90(y, k >> 1, (-2, -1)) if square else (y.flip(-2) if k & 2 else y)
            out.append(y)
        return torch.cat(out)


def build_disc_augment(name: str) -> Optional[nn.Module]:
    """The augmentation called ``name`` (one of :data:`DISC_AUGMENTS`), None for 'none'.

    Raises:
        ValueError: ``name`` is not one of them (the message names ``disc_augment``).
    """
    if name not in DISC_AUGMENTS:
        raise ValueError(f'disc_augment must be one of {DISC_AUGMENTS}, got {name!r}')
    return DihedralAugment() if name == 'dihedral' else None
