#!/usr/bin/env python
"""Evaluate an NLCL checkpoint on the config's test sets (MMagic metrics) and print a table.

    python tools/test.py CONFIG CHECKPOINT [--out metrics.json] [--work-dir DIR]
        [--cfg-options key=value ...] [--launcher none|pytorch]

CHECKPOINT is a checkpoint written by ``tools/train.py`` (or converted with
``tools/convert_official_checkpoint.py --rain``). A checkpoint that is unreadable or of
another architecture, a wrong config key, or an unusable test image ends with one
``error:`` line naming the file or key and exit status 2. CHECKPOINT is loaded
weights-only; ``--trust-checkpoint`` unpickles it in full (trusted files only).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nlcl_plugin  # noqa: E402,F401
from nlcl_plugin.mmagic.runner_utils import build_runner  # noqa: E402


def parse_args(argv=None):
    from mmengine.config import DictAction

    from nlcl_plugin.checkpoint_safety import add_trust_argument
    p = argparse.ArgumentParser(description='Test (and evaluate) an NLCL model')
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out', help='write the metrics to this JSON file')
    p.add_argument('--work-dir', help='where to save logs and visualisations')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    add_trust_argument(p)
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def format_table(metrics: dict) -> str:
    """Rows 'set', columns metric names (keys look like 'Set/PSNR' or 'PSNR')."""
    rows = {}
    for key, value in metrics.items():
        name, metric = key.rsplit('/', 1) if '/' in key else ('test', key)
        rows.setdefault(name, {})[metric] = value
    cols = sorted({m for r in rows.values() for m in r})
    lines = [' | '.join(['set'] + cols)]
    lines.append(' | '.join(['---'] * (len(cols) + 1)))
    for name, r in rows.items():
        cells = [f'{r[c]:.4f}' if isinstance(r.get(c), float) else str(r.get(c, '-')) for c in cols]
        lines.append(' | '.join([name] + cells))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    # test only: no training data, loop or optimiser is needed (as in MMagic's test configs)
    options = dict(train_dataloader=None, train_cfg=None, optim_wrapper=None,
                   param_scheduler=None, **(args.cfg_options or {}))
    from nlcl_plugin.image_io import ImageReadError
    from nlcl_plugin.mmagic.runner_utils import CheckpointError, ConfigError, error_line
    try:
        runner = build_runner(args.config, work_dir=args.work_dir, cfg_options=options,
                              launcher=args.launcher, load_from=args.checkpoint,
                              load_purpose='test', trust_checkpoint=args.trust_checkpoint)
    except (ConfigError, CheckpointError, FileNotFoundError) as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        return 2
    try:
        metrics = runner.test()
    except (FileNotFoundError, ImageReadError) as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        return 2
    from mmengine.dist import is_main_process
    if is_main_process():
        metrics = {k: (float(v) if hasattr(v, '__float__') else v) for k, v in metrics.items()}
        print(format_table(metrics))
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(metrics, f, indent=2)
            print(f'metrics written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
