"""``AtomicCheckpointHook``: mmengine's ``CheckpointHook`` whose files survive a kill.

Why: mmengine 0.10 writes a checkpoint straight to its final name (``LocalBackend.put``
opens ``iter_N.pth`` and writes), rewrites ``last_checkpoint`` in place, and with
``max_keep_ckpts`` deletes the oldest checkpoint *before* writing the new one. A
``kill -9`` (or an out-of-memory kill, a pre-empted job) during a save can therefore
leave a truncated ``iter_N.pth`` that ``last_checkpoint`` may point to, an empty
``last_checkpoint`` (which makes ``--resume`` silently start from scratch), or, with
``max_keep_ckpts=1``, no complete checkpoint at all.

This hook keeps every option of ``CheckpointHook`` and changes only how local files are
written:

1. the checkpoint is written to a hidden temporary file in the same folder
   (``.iter_N.pth.tmp-<pid>``), flushed to disk, then renamed over the final name with
   ``os.replace`` (atomic on POSIX and Windows): ``iter_N.pth`` is either the complete
   new file or absent;
2. only then is ``last_checkpoint`` rewritten, the same way (temporary file + rename);
3. only then are checkpoints beyond ``max_keep_ckpts`` deleted.

The best checkpoint (``save_best``) is written atomically too (mmengine deletes the
previous best just before). Temporary files left by a killed run are removed when
training starts. Remote ``out_dir`` backends keep mmengine's behaviour.
"""
from __future__ import annotations

import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmagic.registry import HOOKS

__all__ = ['AtomicCheckpointHook', 'atomic_write_text', 'temporary_name']

_TMP_MARK = '.tmp-'


def temporary_name(filename: str) -> str:
    """Hidden temporary name of ``filename`` in the same folder (scans skip it)."""
    folder, base = osp.split(filename)
    return osp.join(folder, f'.{base}{_TMP_MARK}{os.getpid()}')


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: str, final: str) -> None:
    """Flush ``tmp`` to disk and rename it over ``final``."""
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(osp.dirname(final))


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = temporary_name(path)
    try:
        with open(tmp, 'w') as f:
            f.write(text)
        _commit(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) with crash-safe local writes.

    See the module docstring: checkpoints and ``last_checkpoint`` are written to a
    temporary file and renamed into place, and old checkpoints are deleted only after
    the new one is complete.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            for stale in glob.glob(osp.join(glob.escape(self.out_dir), f'.*{_TMP_MARK}*')):
                try:
                    os.remove(stale)
                except OSError:
                    continue
                print_log(f'AtomicCheckpointHook: removed {stale}, an incomplete file left '
                          'by an interrupted save', logger='current')

    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_atomically(self, runner, out_dir: str, filename: str, *args, **kwargs) -> None:
        """``runner.save_checkpoint(out_dir, filename, ...)`` through a temporary file."""
        final = osp.join(out_dir, filename)
        tmp_name = osp.basename(temporary_name(final))
        try:
            runner.save_checkpoint(out_dir, tmp_name, *args, **kwargs)
            if is_main_process():  # Runner.save_checkpoint writes on the main process only
                _commit(osp.join(out_dir, tmp_name), final)
        finally:
            tmp = osp.join(out_dir, tmp_name)
            if is_main_process() and osp.exists(tmp):
                os.remove(tmp)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        # the bookkeeping of CheckpointHook (recorded in the checkpoint itself), with the
        # deletion of the oldest checkpoint deferred until the new one is complete
        hub = runner.message_hub
        before = {k: hub.get_info(k) for k in ('keep_ckpt_ids', 'last_ckpt')
                  if k in hub.runtime_info}
        kept = list(self.keep_ckpt_ids) if self.max_keep_ckpts > 0 else []
        outdated = None
        if self.max_keep_ckpts > 0 and not (kept and kept[-1] == step):
            if len(kept) == self.max_keep_ckpts:
                outdated = kept.pop(0)
            kept.append(step)
            hub.update_info('keep_ckpt_ids', list(kept))
        ckpt_filename = self.filename_tmpl.format(step)
        last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        hub.update_info('last_ckpt', last_ckpt)
        try:
            self._save_atomically(
                runner,
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        except BaseException:
            for k, v in before.items():  # as if this save had not been attempted
                hub.update_info(k, v)
            raise
        self.last_ckpt = last_ckpt
        if self.max_keep_ckpts > 0:
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(kept)

        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None and outdated != step:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self._is_local() or 'save_checkpoint' in vars(runner):
            return super()._save_best_checkpoint(runner, metrics)
        # CheckpointHook calls runner.save_checkpoint(out_dir, filename, ...) for the
        # best checkpoint; route that one call through the temporary file.
        runner.save_checkpoint = (
            lambda out_dir, filename, *a, **kw: self._save_atomically(
                _RunnerView(runner), out_dir, filename, *a, **kw))
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint


class _RunnerView:
    """The runner with its class's own ``save_checkpoint`` (not the instance override)."""

    def __init__(self, runner):
        self._runner = runner

    def save_checkpoint(self, *args, **kwargs):
        return type(self._runner).save_checkpoint(self._runner, *args, **kwargs)
