#!/usr/bin/env python
"""Release a demo training run into model_zoo/: its last checkpoint, only if it derains.

    python tools/ship_model.py CONFIG WORK_DIR OUT_DIR --command "python tools/train.py ..."
        [--force]

The rule is fixed before looking: the run's **last** checkpoint (``iter_<max_iters>.pth``
of CONFIG's schedule; never the best-scoring one) is evaluated on the config's paired
test split with the weights that inference uses (the moving averages when the run kept
them), and is released only if both its PSNR and its SSIM (Y) are above the rainy
input's (``--force`` releases it anyway and says so in ``model.json``). OUT_DIR then
holds:

* ``<name>.pth``: the two generators (``tools/export_generators.py``: about 2.6 MB, with
  the config, iteration, seed and command in ``meta``);
* ``config.py`` (the run's dumped config), ``train.log`` and ``scalars.json`` (what the
  run logged);
* ``model.json``: name, config, command, seed, iterations, weights, the test split's
  PSNR/SSIM of the model and of the input (mean and per image), the CPU and the date;
  ``tools/model_zoo.py`` lists it in the README and in ``configs/metafile.yml``.

The checkpoint is loaded weights-only; ``--trust-checkpoint`` unpickles it in full
(trusted files only).
"""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import shutil
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import nlcl_plugin  # noqa: E402,F401
from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402
from nlcl_plugin.data.demo_data import data_version_of  # noqa: E402


def last_checkpoint(cfg, work_dir):
    """``WORK_DIR/iter_<max_iters>.pth`` of the config's schedule."""
    iters = int(cfg.train_cfg.max_iters)
    path = osp.join(work_dir, f'iter_{iters}.pth')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: the run has not finished its {iters} '
                                'iterations')
    return path


def run_files(work_dir):
    """(log, scalars.json, dumped config) of the run's latest timestamped folder."""
    stamps = sorted(d for d in glob.glob(osp.join(work_dir, '*')) if osp.isdir(d) and
                    glob.glob(osp.join(d, '*.log')))
    if not stamps:
        raise FileNotFoundError(f'no <timestamp>/<timestamp>.log under {work_dir}')
    log = sorted(glob.glob(osp.join(stamps[-1], '*.log')))[-1]
    scalars = osp.join(stamps[-1], 'vis_data', 'scalars.json')
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return log, scalars if osp.isfile(scalars) else None, configs[-1] if configs else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('work_dir')
    p.add_argument('out_dir')
    p.add_argument('--command', required=True, help='the exact training command')
    p.add_argument('--name', help='release name (default: the config file name)')
    p.add_argument('--force', action='store_true',
                   help='release even if the model does not beat the input')
    add_trust_argument(p)
    args = p.parse_args(argv)
    from nlcl_plugin.evaluation.report import describe_cpu, evaluate
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.mmagic.runner_utils import load_config
    from nlcl_plugin.models.checkpoint import CheckpointError
    from nlcl_plugin.release import export
    cfg = load_config(args.config)
    name = args.name or osp.splitext(osp.basename(args.config))[0]
    try:
        ckpt = last_checkpoint(cfg, args.work_dir)
        log, scalars, dumped = run_files(args.work_dir)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    test_root = cfg.test_dataloader.dataset.data_root
    try:
        derainer = Derainer.from_checkpoints(ckpt, trust=args.trust_checkpoint)
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    rows, _ = evaluate([('input', None), ('model', derainer)], test_root)
    inp, model = rows
    beats = model['psnr'] > inp['psnr'] and model['ssim'] > inp['ssim']
    print(f'{ckpt} on {test_root} ({inp["images"]} images): PSNR {model["psnr"]:.3f} '
          f'(input {inp["psnr"]:.3f}), SSIM {model["ssim"]:.4f} (input {inp["ssim"]:.4f})')
    if not beats and not args.force:
        print('not released: the last checkpoint does not beat the rainy input in both PSNR '
              'and SSIM (--force releases it anyway)', file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    weights = osp.join(args.out_dir, f'{name}.pth')
    saved = export(ckpt, weights, args.command, trust=args.trust_checkpoint)
    shutil.copyfile(log, osp.join(args.out_dir, 'train.log'))
    if scalars:
        shutil.copyfile(scalars, osp.join(args.out_dir, 'scalars.json'))
    if dumped:
        shutil.copyfile(dumped, osp.join(args.out_dir, 'config.py'))
    info = dict(
        name=name, config=osp.relpath(osp.abspath(args.config), REPO), command=args.command,
        seed=saved['meta'].get('seed'), iterations=saved['meta'].get('iter'),
        weights=osp.relpath(osp.abspath(weights), REPO), weights_kind=saved['meta']['weights'],
        source_checkpoint=osp.basename(ckpt), test_root=test_root, images=inp['images'],
        psnr=model['psnr'], ssim=model['ssim'], input_psnr=inp['psnr'], input_ssim=inp['ssim'],
        psnr_per_image=model['psnr_per_image'], ssim_per_image=model['ssim_per_image'],
        beats_input=beats, data_version=data_version_of(test_root), cpu=describe_cpu(),
        date=datetime.date.today().isoformat())
    with open(osp.join(args.out_dir, 'model.json'), 'w') as f:
        json.dump(info, f, indent=2)
    print(f'released {weights} ({osp.getsize(weights) / 1e6:.2f} MB) with train.log, '
          f'scalars.json, config.py and model.json in {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
