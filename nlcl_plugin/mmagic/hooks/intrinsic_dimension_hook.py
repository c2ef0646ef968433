"""Logs the intrinsic dimension of non-local patch groups of B and R during training.

The TPAMI paper observes that non-local *image* patches have a higher intrinsic
dimension than *rain* patches; this hook lets users check it on their own data.
"""
import math
from typing import Optional

from mmengine.hooks import Hook

from mmagic.registry import HOOKS

from ...models.intrinsic_dim import patch_group_intrinsic_dim
from ._decompose import decompose_batch


@HOOKS.register_module()
class IntrinsicDimensionHook(Hook):
    """Every ``interval`` iterations, estimate the intrinsic dimension of a non-local
    patch group of B and of R (first sample of the batch) and log ``id_background`` and
    ``id_rain`` (scalars in the log, TensorBoard and ``vis_data/scalars.json``).

    A layer without enough distinct patches has no intrinsic dimension (R = 0 at the
    start of a run whose rain generator's output layer is zero-initialised): its value
    is not logged then, rather than logged as NaN.

    Args:
        interval (int): Iterations between estimates.
        num_patches (int): Size of the non-local patch group.
        method (str): 'mle' (Levina-Bickel) or 'twonn'.
        patch_size (int): Patch side; search_size (int): window side.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1000, num_patches: int = 128, method: str = 'mle',
                 patch_size: int = 16, search_size: int = 40):
        if interval <= 0:
            raise ValueError(f'IntrinsicDimensionHook.interval must be > 0, got {interval}')
        if method not in ('mle', 'twonn'):
            raise ValueError(f"IntrinsicDimensionHook.method must be 'mle' or 'twonn', got {method!r}")
        self.interval = interval
        self.num_patches = num_patches
        self.method = method
        self.patch_size = patch_size
        self.search_size = search_size

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        if data_batch is None or not self.every_n_train_iters(runner, self.interval):
            return
        _, bg, rain = decompose_batch(runner, data_batch)
        values = {}
        for name, layer in (('id_background', bg[0]), ('id_rain', rain[0])):
            value = float(patch_group_intrinsic_dim(
                layer.float(), k_patches=self.num_patches, patch_size=self.patch_size,
                search_size=self.search_size, method=self.method))
            if math.isfinite(value):
                values[name] = value
        if not values:
            return
        for name, value in values.items():
            runner.message_hub.update_scalar(f'train/{name}', value)
        runner.visualizer.add_scalars(values, step=runner.iter + 1)
