#!/usr/bin/env python
"""Export the two generators of a training checkpoint into a small release file.

    python tools/export_generators.py work_dirs/run/iter_3000.pth model.pth \
        [--command "python tools/train.py ..."]

A training checkpoint holds G_B, G_R, D, the projection heads and the optimiser states
(about 60 MB); inference needs only G_B and G_R (about 2.6 MB). The release file keeps
them under the training keys (``generator.*``, ``rain_generator.*``, so every loader of
the plugin reads it: ``tools/derain.py``, ``Derainer.from_checkpoints``, ``tools/test.py``
and ``load_from``) and records in ``meta``: the training config text, the iteration, the
seed, the source checkpoint's name, which weights were taken and the training command
when given. When the run kept moving averages of the generators (``model.is_use_ema``),
those are exported (what the run validated with); ``--raw`` takes the raw weights.
The checkpoint is loaded weights-only; ``--trust-checkpoint`` unpickles it in full
(trusted files only).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import nlcl_plugin  # noqa: E402,F401
from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402
from nlcl_plugin.models.checkpoint import CheckpointError, load_state_file  # noqa: E402

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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('checkpoint', help='training checkpoint (tools/train.py)')
    p.add_argument('out', help='output .pth')
    p.add_argument('--command', help='the training command, recorded in meta')
    p.add_argument('--raw', action='store_true',
                   help='export the raw generators, not their moving averages')
    add_trust_argument(p)
    args = p.parse_args(argv)
    try:
        out = export(args.checkpoint, args.out, args.command, args.raw, args.trust_checkpoint)
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'wrote {args.out} ({osp.getsize(args.out) / 1e6:.2f} MB, '
          f'{len(out["state_dict"])} tensors, iteration {out["meta"].get("iter")}, '
          f'{out["meta"]["weights"]} weights)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
