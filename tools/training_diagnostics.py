#!/usr/bin/env python
"""Learning curves of a training run, with the gradient each loss term sends to G_B and G_R.

    python tools/training_diagnostics.py CONFIG WORK_DIR [--batches 4] \
        [--figure docs/figures/training_curves.png] [--json results/training_curves.json]

Reads what the run logged (``WORK_DIR/<timestamp>/vis_data/scalars.json``: every loss
term, ``layer_floor_gap`` and the validation PSNR/SSIM), and for every checkpoint
``WORK_DIR/iter_*.pth`` (train with ``default_hooks.checkpoint.max_keep_ckpts=-1`` to
keep them all) rebuilds the model and measures, on ``--batches`` fixed training crops,
the norm of the gradient that each generator loss term sends into G_B's and G_R's
parameters (one backward per term, through the same forward). When the run kept moving
averages of the generators (``model.is_use_ema``: validation used them), every checkpoint's
raw G_B is also evaluated on the test split, so both curves are drawn. Plots three
panels: validation PSNR/SSIM against the rainy input's, the loss terms, and the
gradient norms. Checkpoints are loaded weights-only; ``--trust-checkpoint`` unpickles
them in full (trusted files only).
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.checkpoint_safety import add_trust_argument, trusting  # noqa: E402
from nlcl_plugin.evaluation.diagnostics import (checkpoint_gradients, input_psnr,  # noqa: E402
                                                plot, raw_validation, read_scalars,
                                                train_pairs_validation)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('work_dir')
    p.add_argument('--batches', type=int, default=4, help='fixed training crops (4)')
    p.add_argument('--no-gradients', action='store_true', help='only the logged curves')
    p.add_argument('--figure', default=None, help='default: WORK_DIR/training_curves.png')
    p.add_argument('--json', default=None, help='default: WORK_DIR/training_curves.json')
    p.add_argument('--title', default=None)
    p.add_argument('--train-pairs', action='store_true',
                   help="also score every checkpoint on the demo's training crops against "
                   'their rain-free twins (train_target/, never read by training)')
    add_trust_argument(p)
    args = p.parse_args(argv)
    with trusting(args.trust_checkpoint):
        return _main(args)


def _main(args):
    from nlcl_plugin.models.checkpoint import CheckpointError
    from nlcl_plugin.mmagic.runner_utils import load_config
    cfg = load_config(args.config)
    train, val = read_scalars(args.work_dir)
    try:
        grads = [] if args.no_gradients else checkpoint_gradients(args.config, args.work_dir,
                                                                   args.batches)
        raw_val = raw_validation(cfg, args.work_dir)
        train_pairs = train_pairs_validation(cfg, args.work_dir) if args.train_pairs else []
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    try:
        baseline = input_psnr(cfg)
    except (FileNotFoundError, KeyError, AttributeError):
        baseline = None
    figure = plot(train, val, grads, baseline,
                  args.figure or osp.join(args.work_dir, 'training_curves.png'),
                  args.title or f'{osp.basename(args.config)}: {args.work_dir}', raw_val,
                  train_pairs)
    out = args.json or osp.join(args.work_dir, 'training_curves.json')
    with open(out, 'w') as f:
        json.dump(dict(config=args.config, input=baseline, train=train, val=val,
                       val_raw=raw_val, train_pairs=train_pairs, gradients=grads), f)
    print(f'figure: {figure}\njson: {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
