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
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402
from nlcl_plugin.models.checkpoint import CheckpointError  # noqa: E402
from nlcl_plugin.release import EMA, KEEP, export  # noqa: E402,F401


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
