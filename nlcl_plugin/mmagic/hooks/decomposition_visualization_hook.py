"""O | B | R triplets of training crops through mmengine's visualiser backends."""
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmagic.registry import HOOKS

from ._decompose import decompose_batch


def to_rgb_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).cpu().numpy()


@HOOKS.register_module()
class DecompositionVisualizationHook(Hook):
    """Every ``interval`` iterations, write ``rainy | background | rain`` of the current
    training batch (first ``max_images`` samples) to every visualiser backend
    (``vis_data/vis_image`` for LocalVisBackend, the Images tab for TensorBoard).

    The rain layer R lives in the [-1, 1] scale of O = B + R; it is shown as intensity
    R/2 in [0, 1], multiplied by ``rain_gain`` so faint streaks are visible.

    Args:
        interval (int): Iterations between pictures.
        max_images (int): Samples of the batch to show.
        rain_gain (float): Display gain for the rain layer.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1000, max_images: int = 4, rain_gain: float = 2.0):
        if interval <= 0:
            raise ValueError(f'DecompositionVisualizationHook.interval must be > 0, got {interval}')
        self.interval = interval
        self.max_images = max_images
        self.rain_gain = rain_gain

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        if data_batch is None or not self.every_n_train_iters(runner, self.interval):
            return
        rainy, bg, rain = decompose_batch(runner, data_batch)
        rows = []
        for i in range(min(self.max_images, rainy.shape[0])):
            rain_vis = (rain[i] * 0.5 * self.rain_gain).clamp(0, 1) * 2 - 1
            rows.append(np.concatenate(
                [to_rgb_uint8(rainy[i]), to_rgb_uint8(bg[i]), to_rgb_uint8(rain_vis)], axis=1))
        image = np.concatenate(rows, axis=0)
        runner.visualizer.add_image('decomposition', image, step=runner.iter + 1)
