"""Release files: the two generators of a training checkpoint, without D, the heads and
the optimiser states (``tools/export_generators.py`` and ``tools/ship_model.py`` write
them)."""
import os
import os.path as osp

import torch

from .models.checkpoint import CheckpointError, load_state_file

__all__ = ['KEEP', 'EMA', 'export']

KEEP = ('generator.', 'rain_generator.')
EMA = ('generator_ema.', 'rain_generator_ema.')


def export(src: str, dst: str, command: str = None, raw: bool = False,
           trust: bool = False) -> dict:
    """Write ``dst`` with the generators of ``src``; returns the saved object.

    The moving averages (``generator_ema.*``, ``rain_generator_ema.*``) are written under
    the plain keys when ``src`` holds them, unless ``raw``. ``src`` is loaded
    weights-only unless ``trust``.
    """
    state = load_state_file(src, trust)
    sd = state.get('state_dict')
    if not isinstance(sd, dict):
        raise CheckpointError(f'{src} is not a training checkpoint (no state_dict)')
    use_ema = not raw and all(any(k.startswith(p) for k in sd) for p in EMA)
    if use_ema:
        weights = {keep + k[len(ema):]: v for keep, ema in zip(KEEP, EMA)
                   for k, v in sd.items() if k.startswith(ema)}
    else:
        weights = {k: v for k, v in sd.items() if k.startswith(KEEP)}
    missing = [p for p in KEEP if not any(k.startswith(p) for k in weights)]
    if missing:
        raise CheckpointError(f'{src} holds no {" / ".join(missing)} weights')
    meta_src = state.get('meta') or {}
    meta = dict(source=osp.basename(src), iter=meta_src.get('iter'),
                seed=meta_src.get('seed'), config=meta_src.get('cfg'),
                weights='moving average' if use_ema else 'raw')
    if command:
        meta['command'] = command
    out = dict(state_dict=weights, meta={k: v for k, v in meta.items() if v is not None})
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    tmp = dst + '.tmp'
    torch.save(out, tmp)
    os.replace(tmp, dst)
    return out
