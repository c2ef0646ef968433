#!/usr/bin/env python
"""Convert the authors' NLCL generator checkpoints to the plugin's format.

    python tools/convert_official_checkpoint.py latest_net_Back.pth nlcl_official_back.pth
    python tools/convert_official_checkpoint.py latest_net_Back.pth nlcl_official.pth \\
        --rain latest_net_Rain.pth

With ``--rain`` the output holds both generators as a model state dict
(``generator.*`` = G_B, ``rain_generator.*`` = G_R) that ``tools/derain.py --save-rain`` and
``load_from`` in the training configs accept; without it, only G_B's ``layers.*`` keys.
The output is a plain tensor dict, loadable with ``torch.load(..., weights_only=True)``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import nlcl_plugin  # noqa: E402,F401
from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402
from nlcl_plugin.models import DecompositionGenerator  # noqa: E402
from nlcl_plugin.models.checkpoint import CheckpointError, load_generator  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('background', help='official latest_net_Back.pth (G_B)')
    p.add_argument('out', help='output .pth')
    p.add_argument('--rain', help='official latest_net_Rain.pth (G_R)')
    add_trust_argument(p)
    args = p.parse_args(argv)
    trust = args.trust_checkpoint
    try:
        g_b = load_generator(DecompositionGenerator(), args.background, 'background', trust=trust)
        state = g_b.state_dict()
        if args.rain:
            g_r = load_generator(DecompositionGenerator(), args.rain, 'background', trust=trust)
            state = {**{f'generator.{k}': v for k, v in state.items()},
                     **{f'rain_generator.{k}': v for k, v in g_r.state_dict().items()}}
            state = {'state_dict': state, 'meta': {'source': 'official NLCL release'}}
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, args.out)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
