"""``NonFiniteLossHook``: a NaN / inf loss is caught at the iteration it occurs.

A hook runs after ``train_step``, when the optimiser has already stepped, so it cannot
undo an update. The prevention is therefore in the model: NLCL's ``train_step`` applies
an update only when its loss is finite on every rank once ``skip_nonfinite_updates`` is
set (see :class:`nlcl_plugin.mmagic.nlcl.NLCL`); this hook turns that guard on, reads
which updates were skipped, logs the iteration with every loss term (and the files of
the batch), and

* ``mode='skip'``: training continues (the weights are those before the bad
  iteration); after ``max_consecutive`` non-finite iterations in a row it stops anyway,
  because training has then diverged;
* ``mode='stop'``: raises :class:`NonFiniteLossError` before the checkpoint hook runs,
  so no checkpoint of that iteration is written and the last good one is kept.

For a model without the guard (e.g. MMagic's ``BaseEditModel``) the bad update has
already been applied, so a non-finite loss always stops training.
"""
from __future__ import annotations

import math
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmagic.registry import HOOKS

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook']

MODES = ('skip', 'stop')


class NonFiniteLossError(RuntimeError):
    """Training stopped on a non-finite loss (the message has the loss terms)."""


def _scalar(value) -> Optional[float]:
    try:
        if hasattr(value, 'numel'):
            if value.numel() != 1:
                return None
            return float(value.detach().float().item())
        return float(value)
    except (TypeError, ValueError):
        return None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Detect NaN / inf losses; skip the update or stop training.

    Args:
        mode (str): ``'skip'`` (default) or ``'stop'`` (see the module docstring).
        max_consecutive (int): In ``'skip'`` mode, stop after this many non-finite
            iterations in a row. Default 10.
    """
    # before CheckpointHook (VERY_LOW), so a stopped iteration writes no checkpoint
    priority = 'ABOVE_NORMAL'

    def __init__(self, mode: str = 'skip', max_consecutive: int = 10) -> None:
        if mode not in MODES:
            raise ValueError(f'NonFiniteLossHook.mode must be one of {MODES}, got {mode!r}')
        if int(max_consecutive) < 1:
            raise ValueError('NonFiniteLossHook.max_consecutive must be >= 1, '
                             f'got {max_consecutive}')
        self.mode = mode
        self.max_consecutive = int(max_consecutive)
        self.guarded = False
        self.consecutive = 0
        self.total = 0

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        self.guarded = hasattr(model, 'skip_nonfinite_updates')
        if self.guarded:
            model.skip_nonfinite_updates = True
        else:
            runner.logger.info(
                f'NonFiniteLossHook: {type(model).__name__} cannot skip an update, so a '
                'non-finite loss stops training')
        self.total = int(runner.message_hub.get_info('nonfinite_iterations', 0) or 0)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        terms = {k: _scalar(v) for k, v in (outputs or {}).items()}
        terms = {k: v for k, v in terms.items() if v is not None}
        if self.guarded:
            skipped = list(getattr(self._model(runner), 'nonfinite_skipped', []) or [])
        else:
            skipped = []
        bad = skipped or [k for k, v in terms.items() if not math.isfinite(v)]
        if not bad:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.total += 1
        runner.message_hub.update_info('nonfinite_iterations', self.total)
        values = ', '.join(f'{k}={v:.6g}' for k, v in terms.items())
        local = any(not math.isfinite(v) for v in terms.values())
        where = (f'non-finite loss at iteration {runner.iter + 1} ({values})' if local else
                 f'non-finite loss on another rank at iteration {runner.iter + 1} (this '
                 f'rank: {values})')
        files = self._batch_files(data_batch)
        if files:
            where += f'; batch: {", ".join(files)}'
        if self.guarded and self.mode == 'skip' and self.consecutive <= self.max_consecutive:
            runner.logger.warning(
                f'NonFiniteLossHook: {where}; skipped the {" and ".join(skipped)} '
                f'update(s) ({self.total} non-finite iteration(s) so far)')
            return
        last = runner.message_hub.get_info('last_ckpt', None)
        if not self.guarded:
            why = 'the update was already applied (the model has no guard)'
        elif self.mode == 'stop':
            why = "mode='stop'; the update was not applied"
        else:
            why = f'{self.consecutive} non-finite iterations in a row'
        raise NonFiniteLossError(
            f'{where}: training stopped ({why}); last checkpoint: '
            f'{last or "none saved yet"}')

    @staticmethod
    def _batch_files(data_batch) -> list:
        samples = (data_batch or {}).get('data_samples') if isinstance(data_batch, dict) else None
        files = []
        for sample in samples or []:
            for key in ('img_path', 'gt_path'):
                path = sample.metainfo.get(key) if hasattr(sample, 'metainfo') else None
                if path:
                    files.append(str(path))
        return files
