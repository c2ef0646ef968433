"""The decomposition generator used for both G_B (background) and G_R (rain).

A full-resolution residual network (no down/up-sampling), exact to the released NLCL
checkpoints: 3->32 conv, 16 residual blocks, a conv-IN-ReLU-conv tail and a 32->3 conv
without output activation; 316,195 parameters.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ResBlock', 'ConvNormConv', 'DecompositionGenerator']


def _instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Non-affine InstanceNorm without running statistics (eps 1e-5)."""
    return F.instance_norm(x, eps=1e-5)


class ResBlock(nn.Module):
    """y = x + IN(conv2(ReLU(IN(conv1(x))))), zero padding, no activation after the sum.

    Args:
        channels (int): Feature width C. Input and output are (N, C, H, W).
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(_instance_norm(self.conv1(x)))
        return x + _instance_norm(self.conv2(y))


class ConvNormConv(nn.Module):
    """The generator's tail: conv -> IN -> ReLU -> conv, without skip connection.

    Args:
        channels (int): Feature width C. Input and output are (N, C, H, W).
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(_instance_norm(self.conv1(x))))


class DecompositionGenerator(nn.Module):
    """NLCL's generator (G_B and G_R share this architecture, not their weights).

    Layer indices (used for feature taps): 0 = input conv, 1..num_blocks = residual
    blocks, num_blocks+1 = tail, num_blocks+2 = output conv. Every layer keeps the
    input's spatial size. Weights keep PyTorch's default initialisation, as the
    authors' generators do.

    Args:
        in_channels (int): Input channels (3 for RGB in [-1, 1]).
        out_channels (int): Output channels.
        mid_channels (int): Feature width (32 in NLCL).
        num_blocks (int): Residual blocks (16 in NLCL).

    Shapes:
        forward: (N, in_channels, H, W) -> (N, out_channels, H, W), any H, W >= 1.
    """

    def __init__(self,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 mid_channels: int = 32,
                 num_blocks: int = 16):
        super().__init__()
        self.mid_channels = mid_channels
        self.num_blocks = num_blocks
        layers = [nn.Conv2d(in_channels, mid_channels, 3, 1, 1)]
        layers += [ResBlock(mid_channels) for _ in range(num_blocks)]
        layers += [ConvNormConv(mid_channels), nn.Conv2d(mid_channels, out_channels, 3, 1, 1)]
        self.layers = nn.ModuleList(layers)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_features(self, x: torch.Tensor, layers: Sequence[int]) -> List[torch.Tensor]:
        """Outputs of the listed layer indices, computing no further than the last one.

        Args:
            x (Tensor): (N, in_channels, H, W).
            layers (Sequence[int]): Layer indices, e.g. (0, 2, 4, 8, 12).

        Returns:
            list[Tensor]: One (N, C_l, H, W) tensor per index, in the order given.
        """
        wanted = set(layers)
        if not wanted:
            return []
        bad = [i for i in wanted if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'generator layer indices {bad} out of range [0, {self.num_layers})')
        feats = {}
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in wanted:
                feats[i] = x
                if len(feats) == len(wanted):
                    break
        return [feats[i] for i in layers]
