"""The detail layer of an image: what is left after removing its smooth base layer.

Rain streaks are thin (1-3 px) and live almost entirely in the detail layer, while the
base layer carries tone, colour and illumination. Deraining networks have long been
trained on the detail layer for this reason (Fu et al., "Removing rain from single
images via a deep detail network", CVPR 2017). Here it is an option of NLCL's
discriminator input (``NLCLObjective(disc_input='detail')``, beyond the paper): with
unpaired rainy and clean photos of different scenes, a discriminator that sees whole
images also separates them by their palettes, and its gradient then recolours B towards
the clean photos' colours instead of removing rain; on the detail layer it can only
judge structure.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['DetailLayer', 'GrayImage', 'GrayToneAndDetail']


class DetailLayer(nn.Module):
    """x - GaussianBlur_sigma(x), per channel, with reflect padding; with ``gray`` of the
    channel mean, repeated over the channels.

    The blur is separable (two 1-D convolutions with a fixed, normalised Gaussian of
    radius ceil(3 sigma)); the kernel is a non-persistent buffer, so checkpoints are
    unaffected. Differentiable.

    With ``gray=True`` the channels are first averaged (rain is white: it adds the same
    amount to every channel), so whatever judges the result sees no colour at all, and
    the gradient it sends back is the same for the three channels: it can brighten or
    darken B, never tint it.

    Args:
        sigma (float): Standard deviation of the base layer's blur in pixels (> 0).
        gray (bool): Take the detail layer of the channel mean (repeated C times).

    Shapes:
        forward: (N, C, H, W) -> (N, C, H, W), any H, W >= 1.
    """

    def __init__(self, sigma: float = 3.0, gray: bool = False):
        super().__init__()
        self.gray = bool(gray)
        if not sigma > 0:
            raise ValueError(f'DetailLayer sigma must be > 0, got {sigma}')
        self.sigma = float(sigma)
        radius = int(math.ceil(3 * sigma))
        t = torch.arange(-radius, radius + 1, dtype=torch.float64)
        g = torch.exp(-0.5 * (t / sigma) ** 2)
        self.register_buffer('kernel', (g / g.sum()).float(), persistent=False)

    def extra_repr(self) -> str:
        return f'sigma={self.sigma}, gray={self.gray}'

    def base(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth base layer GaussianBlur_sigma(x), (N, C, H, W)."""
        n, c, h, w = x.shape
        radius = self.kernel.numel() // 2
        k = self.kernel.to(dtype=x.dtype, device=x.device)
        y = x.reshape(n * c, 1, h, w)
        # reflect padding needs pad < size: fall back to replicate on tiny inputs
        mode_h = 'reflect' if radius < h else 'replicate'
        mode_w = 'reflect' if radius < w else 'replicate'
        y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode=mode_h), k.view(1, 1, -1, 1))
        y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode=mode_w), k.view(1, 1, 1, -1))
        return y.reshape(n, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gray:
            c = x.shape[1]
            x = x.mean(dim=1, keepdim=True)
            return (x - self.base(x)).expand(-1, c, -1, -1)
        return x - self.base(x)


class GrayImage(nn.Module):
    """The channel mean, repeated over the channels: an image without colour.

    Whatever judges the result sees tone, contrast and haze but no palette, and the
    gradient it sends back is the same for the three channels.

    Shapes:
        forward: (N, C, H, W) -> (N, C, H, W).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True).expand_as(x)


class GrayToneAndDetail(nn.Module):
    """Channel 0: the channel mean (tone, haze); the other channels: its detail layer
    (streaks, texture), so that a judge sees both, without colour.

    Args:
        sigma (float): Blur of the detail layer's base (see :class:`DetailLayer`).

    Shapes:
        forward: (N, C, H, W) -> (N, C, H, W), C >= 2.
    """

    def __init__(self, sigma: float = 3.0):
        super().__init__()
        self.detail = DetailLayer(sigma, gray=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gray = x.mean(dim=1, keepdim=True)
        detail = self.detail(gray)
        return torch.cat([gray, detail.expand(-1, x.shape[1] - 1, -1, -1)], dim=1)
