#!/usr/bin/env python
"""Evaluate a demo training run side by side with the shipped model and the authors' G_B.

    python tools/demo_report.py configs/nlcl_demo.py work_dirs/nlcl_demo [--checkpoint CKPT]
        [--shipped model_zoo/nlcl_demo_same_places_s2022/nlcl_demo_same_places_s2022.pth]
        [--official-dir DIR]

On the paired demo test split it reports PSNR/SSIM on the Y channel (MMagic's functions)
of, side by side:

* the rainy input itself (what doing nothing scores);
* the run in WORK_DIR (the short ``make demo`` training; its latest checkpoint unless
  ``--checkpoint``), also tested through MMagic's ``Runner.test`` for its pictures;
* the project's shipped model (``--shipped``; skipped when the file is absent);
* the authors' released G_B, when ``--official-dir``, ``$NLCL_OFFICIAL_DIR`` or
  ``../shared/official-nlcl`` holds ``checkpoints/latest_net_Back.pth``.

Every NLCL generator is run the same way (``Derainer``: input in [-1, 1], B clamped,
rounded to 8 bits); a run of another MMagic model (``configs/zoo/``: Restormer, NAFNet,
CycleGAN) through that model's own test step (``ModelDerainer``). Pictures:
``WORK_DIR/report/<image>.png`` strips (rainy | each model | clean).
Writes ``WORK_DIR/demo_report.json``.
"""
import argparse
import glob
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.report import (BAND_KEYS, derainer_for,  # noqa: E402
                                           describe_cpu, evaluate, latest_checkpoint,
                                           official_checkpoint, print_per_kind,
                                           write_pictures)

DEFAULT_SHIPPED = osp.join(REPO, 'model_zoo', 'nlcl_demo_same_places_s2022',
                           'nlcl_demo_same_places_s2022.pth')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('work_dir')
    p.add_argument('--checkpoint', help='default: the latest checkpoint in WORK_DIR')
    p.add_argument('--shipped', default=DEFAULT_SHIPPED,
                   help='the shipped model (default model_zoo/nlcl_demo_same_places_s2022/'
                   'nlcl_demo_same_places_s2022.pth, the best released; skipped if absent)')
    p.add_argument('--official-dir', help="folder with the authors' checkpoints/ "
                   '(default: $NLCL_OFFICIAL_DIR, then ../shared/official-nlcl)')
    p.add_argument('--raw-weights', action='store_true',
                   help="evaluate the run's raw generators instead of the moving averages "
                   '(configs with model.is_use_ema)')
    p.add_argument('--no-runner-test', action='store_true',
                   help="skip MMagic's Runner.test of the run (and its pictures)")
    from nlcl_plugin.checkpoint_safety import add_trust_argument, trusting
    add_trust_argument(p)
    args = p.parse_args(argv)
    with trusting(args.trust_checkpoint):
        return _main(args)


def _main(args):
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.mmagic.runner_utils import build_runner
    ckpt = args.checkpoint or latest_checkpoint(args.work_dir)
    runner = build_runner(args.config, work_dir=osp.join(args.work_dir, 'demo_test'),
                          load_from=ckpt,
                          cfg_options=dict(train_dataloader=None, train_cfg=None,
                                           optim_wrapper=None, param_scheduler=None))
    test_root = runner.cfg.test_dataloader.dataset.data_root
    vis = None
    if not (args.no_runner_test or args.raw_weights):
        runner.test()  # MMagic's own test loop: metrics in its log, pictures below
        vis = osp.join(runner.log_dir, 'vis_data', 'vis_image')

    # the make demo run, or the checkpoint named
    label = f'this run ({osp.basename(ckpt)})' if args.checkpoint else 'this run (short demo)'
    if args.raw_weights:
        label = label[:-1] + ', raw weights)'
    models = [('rainy input O', None),
              (label, derainer_for(runner.cfg, ckpt, ema=False if args.raw_weights else None))]
    shipped = args.shipped if args.shipped and osp.isfile(args.shipped) else None
    if shipped:
        models.append(('shipped model', Derainer.from_checkpoints(shipped)))
    official = official_checkpoint(args.official_dir)
    if official:
        models.append(("authors' released G_B", Derainer.from_checkpoints(official)))
    rows, pictures = evaluate(models, test_root)
    pics = write_pictures(pictures, [label for label, _ in models] + ['clean'],
                          osp.join(args.work_dir, 'report'))

    n = rows[0]['images']
    print()
    print(f'Demo test split: {n} paired images under {test_root}')
    print(f'CPU: {describe_cpu()}')
    print(f'| {"model":<24} | PSNR (Y) | SSIM (Y) |  vs input | streaks taken away | '
          'detail error removed | haze error removed |')
    print(f'| {"-" * 24} | -------- | -------- | --------- | ------------------ | '
          '-------------------- | ------------------ |')
    for row in rows:
        gain = row['psnr'] - rows[0]['psnr']
        print(f'| {row["label"]:<24} | {row["psnr"]:8.3f} | {row["ssim"]:8.4f} | '
              f'{gain:+6.2f} dB | {100 * row["detail_projection"]:16.1f} % | '
              f'{100 * row["detail_removed"]:18.1f} % | {100 * row["base_removed"]:16.1f} % |')
    print('streaks taken away: how far the output moved along the input\'s detail-band error '
          '(Y); detail / haze error removed: the share of the input\'s error gone from the '
          'output in the detail / base band (tools/error_bands.py)')
    print_per_kind(rows)
    print()
    print(f'  this run: {ckpt}')
    if shipped:
        print(f'  shipped:  {shipped}')
    else:
        print(f'  no model-zoo model at {args.shipped} (none ships yet: docs/training.md)')
    if official:
        print(f"  authors': {official}")
    print(f'Pictures (rainy | models | clean): {pics}')
    if vis:
        print(f"MMagic test-loop pictures: {vis}")
    train_vis = sorted(glob.glob(osp.join(args.work_dir, '*', 'vis_data', 'vis_image')))
    if train_vis:
        print(f'Training decompositions (rainy | background | rain): {train_vis[-1]}')
    print(f'TensorBoard: tensorboard --logdir {args.work_dir}')
    run_row = rows[1]
    report = dict(checkpoint=ckpt, weights='raw' if args.raw_weights else 'default', images=n, cpu=describe_cpu(),
                  input_psnr=rows[0]['psnr'], input_ssim=rows[0]['ssim'],
                  psnr=run_row['psnr'], ssim=run_row['ssim'],
                  **{k: run_row[k] for k in BAND_KEYS}, per_kind=run_row['per_kind'],
                  input_per_kind=rows[0]['per_kind'],
                  shipped=shipped, official=official, rows=rows)
    with open(osp.join(args.work_dir, 'demo_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
