"""Deraining photos with trained generators (host-independent).

The test path is the authors': input scaled to [-1, 1], B = G_B(O) clamped to [-1, 1],
mapped to [0, 255] and rounded. The rain layer R = G_R(O) is shown in image-intensity
units, R/2 clipped to [0, 1] (O = B + R holds in the [-1, 1] scale).
"""
from typing import Optional, Tuple

import numpy as np
import torch

from .models.checkpoint import load_generator
from .models.generator import DecompositionGenerator

__all__ = ['image_to_tensor', 'tensor_to_image', 'rain_to_image', 'Derainer']


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float32 (1, 3, H, W) in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0)
    return t.float().div_(127.5).sub_(1.0)


def tensor_to_image(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> uint8 (H, W, 3): clamp, map to [0, 255], round."""
    t = t.detach().float().clamp(-1.0, 1.0).add(1.0).mul(127.5).round()
    return t[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def rain_to_image(t: torch.Tensor) -> np.ndarray:
    """Rain layer (1, 3, H, W) in [-1, 1]-scale units -> uint8 (H, W, 3) of R/2 in [0, 1]."""
    t = t.detach().float().mul(0.5).clamp(0.0, 1.0).mul(255.0).round()
    return t[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


class Derainer:
    """Runs G_B (and optionally G_R) on whole photos.

    Args:
        background (DecompositionGenerator): G_B.
        rain (DecompositionGenerator, optional): G_R; needed only for the rain layer.
        device (str): 'cpu' or 'cuda[:i]'.
    """

    def __init__(self,
                 background: DecompositionGenerator,
                 rain: Optional[DecompositionGenerator] = None,
                 device: str = 'cpu'):
        self.device = torch.device(device)
        self.background = background.eval().to(self.device)
        self.rain = rain.eval().to(self.device) if rain is not None else None

    @classmethod
    def from_checkpoints(cls,
                         checkpoint: str,
                         rain_checkpoint: Optional[str] = None,
                         device: str = 'cpu',
                         with_rain: bool = False) -> 'Derainer':
        """Build from the authors' files or a plugin checkpoint (which holds both nets).

        Args:
            checkpoint (str): G_B weights: official ``latest_net_Back.pth``, an exported
                generator, or a training checkpoint of the plugin.
            rain_checkpoint (str, optional): G_R weights; defaults to ``checkpoint`` when
                that is a training checkpoint holding both generators.
            with_rain (bool): Also load G_R.
        """
        background = load_generator(DecompositionGenerator(), checkpoint, role='background')
        rain = None
        if with_rain:
            rain = load_generator(DecompositionGenerator(), rain_checkpoint or checkpoint, role='rain')
        return cls(background, rain, device)

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Derain one uint8 RGB image (H, W, 3); returns (background, rain or None)."""
        x = image_to_tensor(rgb).to(self.device)
        bg = tensor_to_image(self.background(x))
        rain = rain_to_image(self.rain(x)) if self.rain is not None else None
        return bg, rain
