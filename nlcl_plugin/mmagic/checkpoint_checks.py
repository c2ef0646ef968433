"""Checkpoint checks run before a Runner starts (``--resume``, ``load_from``, testing).

* :func:`check_checkpoint`: the file is a readable PyTorch checkpoint holding this model's
  weights with the right shapes. mmengine loads with ``strict=False`` and only *warns*
  about missing keys, so a checkpoint of another architecture would otherwise "load" and
  train or evaluate random weights;
* :func:`find_resume_checkpoint`: ``--resume`` without a path takes the checkpoint named
  in the work dir's ``last_checkpoint`` when it is complete, else the newest complete
  ``iter_*.pth`` / ``epoch_*.pth`` (with a warning), instead of failing on or silently
  ignoring a damaged one.

Both read files weights-only (:mod:`nlcl_plugin.checkpoint_safety`): a file holding an
object outside the allow-list is refused with one line naming it, unless trusted.
"""
import glob
import logging
import os
import os.path as osp
import re
import zipfile
from typing import Optional

import torch

from ..checkpoint_safety import CheckpointError, UntrustedCheckpointError, load_checkpoint_file

__all__ = ['CheckpointError', 'check_checkpoint', 'find_resume_checkpoint']


def _plain(key: str) -> str:
    """Key without DDP ``module.`` levels ('generator.module.x' -> 'generator.x')."""
    return re.sub(r'(^|\.)module\.', r'\1', key)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f'{type(err).__name__}: {text.splitlines()[0] if text else ""}'


def _is_complete(path: str) -> bool:
    """A torch checkpoint file that was written to the end (zip directory present and
    every member's checksum right)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return bool(zf.namelist()) and zf.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError):
        return False


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (auto) continues from; None when there is none.

    The file named in ``<work_dir>/last_checkpoint`` when it is complete; otherwise
    (file missing, empty, naming a truncated or missing checkpoint) the most recently
    written complete ``iter_*.pth`` / ``epoch_*.pth`` of the work dir, with a warning.

    Raises:
        CheckpointError: Checkpoints exist but none is complete.
    """
    from mmengine.logging import print_log
    last_file = osp.join(work_dir, 'last_checkpoint')
    recorded = None
    if osp.isfile(last_file):
        with open(last_file) as f:
            recorded = f.read().strip() or None
    candidates = []
    if recorded:
        candidates += [recorded, osp.join(work_dir, osp.basename(recorded))]
    found = [p for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
             if re.fullmatch(r'(iter|epoch)_\d+\.pth', osp.basename(p))]
    candidates += sorted(found, key=lambda p: (os.path.getmtime(p),
                                               int(re.findall(r'\d+', osp.basename(p))[0])),
                         reverse=True)
    damaged = []
    for path in dict.fromkeys(candidates):
        if osp.isfile(path) and _is_complete(path):
            if recorded is None and found:
                print_log(f'resume: {last_file} is missing or empty; resuming from the '
                          f'newest complete checkpoint {path}', logger='current',
                          level=logging.WARNING)
            elif recorded is not None and path not in candidates[:2]:
                print_log(f'resume: the last checkpoint {recorded} is incomplete or missing '
                          f'(interrupted save?); resuming from {path}, the newest complete '
                          'one', logger='current', level=logging.WARNING)
            return path
        if osp.exists(path):
            damaged.append(path)
    if damaged:
        raise CheckpointError(f'cannot resume in {work_dir}: no complete checkpoint '
                              f'(damaged: {", ".join(damaged)})')
    if recorded:
        raise CheckpointError(f'cannot resume: {last_file} names {recorded}, which does not '
                              'exist, and the work dir holds no other checkpoint')
    print_log(f'resume: no checkpoint in {work_dir}; training starts from scratch',
              logger='current', level=logging.WARNING)
    return None


def check_checkpoint(path: str, model: torch.nn.Module, purpose: str = 'load',
                     label: str = 'load_from', trust: bool = False) -> dict:
    """Check that ``path`` is a readable checkpoint holding ``model``'s weights.

    Args:
        path (str): Checkpoint file (local).
        model (nn.Module): The model (wrappers are looked through).
        purpose (str): ``'resume'`` (every weight, plus mmengine's ``meta`` and message
            hub), ``'test'`` (every weight of ``generator``), or ``'load'`` (weights
            present must fit; missing ones are only logged).
        label (str): What the file is, for messages (a config key or an argument).
        trust (bool): Load with full unpickling (``--trust-checkpoint``); by default the
            file is loaded weights-only, as mmengine's loader then loads it.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointError: One line naming ``label`` and the file.
    """
    from mmengine.logging import print_log
    from mmengine.model import is_model_wrapper
    if purpose not in ('resume', 'load', 'test'):
        raise ValueError(f"purpose must be 'resume', 'load' or 'test', got {purpose!r}")
    if '://' in str(path):  # remote: mmengine's loader reports its own errors
        return {}
    where = f'{label}={path}'
    if not osp.isfile(path):
        raise CheckpointError(f'{where}: checkpoint file not found')
    try:
        ckpt = load_checkpoint_file(path, map_location='cpu', trust=trust, where=where)
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # truncated zip, pickle error, not a torch file
        raise CheckpointError(f'{where}: cannot read the checkpoint ({_first_line(err)}); '
                              'the file is truncated, damaged or not a PyTorch checkpoint'
                              ) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{where}: not a checkpoint (holds a {type(ckpt).__name__})')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not any(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f'{where}: holds no weights (no state_dict of tensors)')
    model = model.module if is_model_wrapper(model) else model
    theirs = {_plain(k): v for k, v in state.items() if torch.is_tensor(v)}
    ours = {_plain(k): v for k, v in model.state_dict().items()}
    name = type(model).__name__
    common = [k for k in ours if k in theirs]
    if not common:
        hint = ''
        if any(k.startswith('gen.') for k in theirs):
            hint = ('; it is an official generator file: convert it with '
                    'tools/convert_official_checkpoint.py')
        raise CheckpointError(
            f'{where}: holds none of the weights of {name} (its keys look like '
            f'{", ".join(list(theirs)[:2])}; {name} expects e.g. '
            f'{", ".join(list(ours)[:2])}){hint}')
    shapes = [k for k in common if tuple(theirs[k].shape) != tuple(ours[k].shape)]
    if shapes:
        k = shapes[0]
        raise CheckpointError(
            f'{where}: another architecture: {len(shapes)} weight(s) of {name} have another '
            f'shape, e.g. {k} is {tuple(theirs[k].shape)} in the file and '
            f'{tuple(ours[k].shape)} in the model')
    missing = [k for k in ours if k not in theirs]
    if purpose == 'resume':
        required = missing
    elif purpose == 'test':
        required = [k for k in missing if k.startswith('generator.')]
    else:
        required = []
    if required:
        raise CheckpointError(
            f'{where}: {len(required)} of the {len(ours)} weights of {name} are missing '
            f'(another architecture or a partial file), e.g. {required[0]}')
    if purpose == 'resume':
        meta = ckpt.get('meta')
        if not isinstance(meta, dict) or 'iter' not in meta or 'message_hub' not in ckpt:
            raise CheckpointError(
                f'{where}: not a training checkpoint (no meta/iter or message_hub) and '
                'cannot be resumed; start from its weights with load_from instead')
    if missing:
        print_log(f'{where}: {len(missing)} weight(s) of {name} are not in the file and '
                  f'keep their initial values, e.g. {missing[0]}', logger='current',
                  level=logging.WARNING)
    return ckpt
