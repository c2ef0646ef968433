"""PatchGAN discriminator with antialiased (blur) downsampling and feature taps.

Also the frozen "discriminator encoder" of NLCL's layer-contrastive loss. Exact to the
authors' architecture: 2,764,737 parameters, 30x30 score map for a 256x256 input.

Speed: on CPU the network computes in channels-last layout with the layout-keeping
InstanceNorm of :mod:`.fast_ops` (same values as ``nn.InstanceNorm2d`` up to float32
rounding; the norm has no parameters or buffers, so state dicts are unchanged).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fast_ops import Conv2d, instance_norm, to_preferred_format

__all__ = ['BlurDownsample', 'InstanceNorm', 'PatchDiscriminator']


class InstanceNorm(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d(C)`` (non-affine, no running statistics) via :mod:`.fast_ops`."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(num_features, eps=eps, affine=False, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return super().forward(x)
        return instance_norm(x, self.eps)


class BlurDownsample(nn.Module):
    """Depthwise [1,2,1]^T[1,2,1]/16 blur, reflect pad 1, stride 2.

    Shapes: (N, C, H, W) -> (N, C, floor((H-1)/2)+1, floor((W-1)/2)+1).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        k = torch.tensor([1., 2., 1.])
        k = (k[:, None] * k[None, :]) / 16.
        self.register_buffer('kernel', k[None, None].repeat(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode='reflect')
        return F.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=self.channels)


class PatchDiscriminator(nn.Module):
    """PatchGAN ``n_layers=3`` discriminator with blur downsampling (index map below).

    ``model`` indices: 0 conv(3->64), 1 LReLU, 2 blur, 3 conv(64->128), 4 IN, 5 LReLU,
    6 blur, 7 conv(128->256), 8 IN, 9 LReLU, 10 blur, 11 conv(256->512), 12 IN, 13 LReLU,
    14 conv(512->1). Every conv is 4x4, stride 1, pad 1. Taps are the pre-norm conv
    outputs 0, 3, 7, 11 (64x255², 128x127², 256x63², 512x31² for a 256² input).

    Args:
        in_channels (int): Input channels.
        base_channels (int): Width of the first conv (64).
        num_layers (int): Downsampling stages (3).
        init_gain (float): Std gain of the xavier-normal initialisation (0.02); biases 0.
        norm (str): 'instance' (the authors') or 'none' (beyond the paper: identity at
            indices 4, 8, 12, so indices, taps and weights keep their names). Instance
            normalisation removes each channel's mean and spread over the image, and
            with them what tells a photograph covered in rain streaks from a clean one:
            the streaks' texture energy, spread evenly over the whole image. Measured in
            ``docs/training.md``: with it, D scores a rainy crop and the same crop
            without rain alike after 300 steps.

    Shapes:
        forward: (N, in_channels, H, W) -> (N, 1, H', W') with H' = 30 for H = 256;
        inputs need H, W >= 16 for the final map to be non-empty.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_layers: int = 3,
                 init_gain: float = 0.02,
                 norm: str = 'instance'):
        super().__init__()
        if norm not in ('instance', 'none'):
            raise ValueError(f"discriminator norm must be 'instance' or 'none', got {norm!r}")
        self.norm = norm
        layers = [Conv2d(in_channels, base_channels, 4, 1, 1), nn.LeakyReLU(0.2)]
        ch = base_channels
        self.tap_channels = {0: base_channels}
        for n in range(1, num_layers + 1):
            out = base_channels * min(2**n, 8)
            layers.append(BlurDownsample(ch))
            self.tap_channels[len(layers)] = out
            layers += [Conv2d(ch, out, 4, 1, 1),
                       InstanceNorm(out) if norm == 'instance' else nn.Identity(),
                       nn.LeakyReLU(0.2)]
            ch = out
        layers.append(Conv2d(ch, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.init_gain = float(init_gain)
        self.init_weights()

    def channels_of_taps(self, layers: Sequence[int]) -> Tuple[int, ...]:
        """Channels of the conv taps ``layers`` (``model`` indices), e.g. (64, 128, 256,
        512) for (0, 3, 7, 11) with ``num_layers=3``. Raises ``ValueError`` naming the
        taps that this discriminator does not have (``num_layers=1`` has 0 and 3 only)."""
        missing = [i for i in layers if i not in self.tap_channels]
        if missing:
            raise ValueError(f'discriminator taps {missing} do not exist with num_layers='
                             f'{len(self.tap_channels) - 1}: its conv taps are '
                             f'{sorted(self.tap_channels)} (set objective.disc_layers)')
        return tuple(self.tap_channels[i] for i in layers)

    def init_weights(self, gain: Optional[float] = None) -> None:
        """Xavier-normal weights with ``gain`` (default: the constructor's ``init_gain``),
        zero biases.

        mmengine's Runner calls ``init_weights()`` without arguments on every child of
        the model before training, so the default must be the configured gain.
        """
        gain = self.init_gain if gain is None else float(gain)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, gain=gain)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(to_preferred_format(x))

    def forward_features(self,
                         x: torch.Tensor,
                         layers: Sequence[int] = (0, 3, 7, 11),
                         include_input: bool = False) -> List[torch.Tensor]:
        """Outputs of the listed ``model`` indices (stopping after the last one).

        Args:
            x (Tensor): (N, in_channels, H, W).
            layers (Sequence[int]): Indices into ``model``; conv taps are 0, 3, 7, 11.
            include_input (bool): Prepend ``x`` itself to the returned list.

        Returns:
            list[Tensor]: ``[x]`` (if asked) followed by one tensor per index.
        """
        feats, _ = self.features_and_scores(x, layers, include_input, score_samples=0)
        return feats

    def features_and_scores(self,
                            x: torch.Tensor,
                            layers: Sequence[int] = (0, 3, 7, 11),
                            include_input: bool = False,
                            score_samples: Optional[int] = None
                            ) -> Tuple[List[torch.Tensor], Optional[torch.Tensor]]:
        """Feature taps and the score map from one pass.

        Args:
            x (Tensor): (N, in_channels, H, W).
            layers (Sequence[int]): Indices into ``model`` to return.
            include_input (bool): Prepend ``x`` itself to the returned list.
            score_samples (int, optional): Score only the first ``score_samples``
                samples (the final conv runs on those alone; 0: stop after the last
                tap and return no scores); default all, i.e. ``forward(x)``.

        Returns:
            (list[Tensor], Tensor | None): as :meth:`forward_features`, and the score
            map ``forward(x[:score_samples])`` (values as computed sample by sample).
        """
        wanted = set(layers)
        bad = [i for i in wanted if not 0 <= i < len(self.model)]
        if bad:
            raise ValueError(f'discriminator layer indices {bad} out of range [0, {len(self.model)})')
        n = x.shape[0] if score_samples is None else score_samples
        feats = {}
        h = to_preferred_format(x)
        last = len(self.model) - 1
        for i, layer in enumerate(self.model):
            if n == 0 and len(feats) == len(wanted):
                break
            if i == last and last not in wanted:
                h = h[:n]
            h = layer(h)
            if i in wanted:
                feats[i] = h
        out = [feats[i] for i in layers]
        scores = h[:n] if n > 0 else None
        return ([x] if include_input else []) + out, scores
