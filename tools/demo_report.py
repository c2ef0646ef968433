#!/usr/bin/env python
"""Evaluate a demo training run side by side with the shipped model and the authors' G_B.

    python tools/demo_report.py configs/nlcl_demo.py work_dirs/nlcl_demo [--checkpoint CKPT]
        [--shipped model_zoo/nlcl_demo_s2022/nlcl_demo_s2022.pth] [--official-dir DIR]

On the paired demo test split it reports PSNR/SSIM on the Y channel (MMagic's functions)
of, side by side:

* the rainy input itself (what doing nothing scores);
* the run in WORK_DIR (the short ``make demo`` training; its latest checkpoint unless
  ``--checkpoint``), also tested through MMagic's ``Runner.test`` for its pictures;
* the project's shipped model (``--shipped``; skipped when the file is absent);
* the authors' released G_B, when ``--official-dir``, ``$NLCL_OFFICIAL_DIR`` or
  ``../shared/official-nlcl`` holds ``checkpoints/latest_net_Back.pth``.

Every model is run the same way (``Derainer``: input in [-1, 1], B clamped, rounded to
8 bits). Pictures: ``WORK_DIR/report/<image>.png`` strips (rainy | each model | clean).
Writes ``WORK_DIR/demo_report.json``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import nlcl_plugin  # noqa: E402,F401

DEFAULT_SHIPPED = osp.join(REPO, 'model_zoo', 'nlcl_demo_s2022', 'nlcl_demo_s2022.pth')


def latest_checkpoint(work_dir):
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    ckpts = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')),
                   key=lambda p: int(osp.basename(p)[5:-4]))
    if not ckpts:
        raise FileNotFoundError(f'no checkpoint in {work_dir} (train first)')
    return ckpts[-1]


def official_checkpoint(official_dir=None):
    """The authors' G_B file, or None when it is not available here."""
    candidates = [official_dir, os.environ.get('NLCL_OFFICIAL_DIR'),
                  osp.join(REPO, '..', 'shared', 'official-nlcl')]
    for root in candidates:
        if root:
            path = osp.join(root, 'checkpoints', 'latest_net_Back.pth')
            if osp.isfile(path):
                return osp.normpath(path)
    return None


def test_pairs(test_root, inputs='input'):
    names = sorted(os.listdir(osp.join(test_root, inputs)))
    if not names:
        raise FileNotFoundError(f'no test images under {test_root}/{inputs}')
    return names


def y_metrics(pred, clean):
    """PSNR and SSIM on the Y channel (MMagic's functions) of two uint8 RGB images."""
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.evaluation.metrics.ssim import ssim
    kw = dict(crop_border=0, input_order='HWC', convert_to='Y', channel_order='rgb')
    return float(psnr(pred, clean, **kw)), float(ssim(pred, clean, **kw))


#: What :func:`evaluate` reports of the error bands (see :func:`error_bands.band_removal`).
BAND_KEYS = ('detail_removed', 'base_removed', 'detail_projection')


def evaluate(models, test_root, inputs='input', targets='target'):
    """Mean PSNR/SSIM (Y) per model and the outputs, over the test split.

    Args:
        models (list[tuple[str, Derainer | None]]): (label, derainer); None = the input.
        test_root (str): Folder holding the rainy images (``inputs``) and their clean
            twins (``targets``), under the same names.

    Returns:
        (list[dict], dict): one row per model (label, psnr, ssim and the
        ``BAND_KEYS``: means, with per-image lists; ``names``: the images; ``per_kind``:
        the same means per rain kind where the demo manifest records kinds, else empty)
        and
        ``{image name: [rainy, output of each model..., clean]}``. ``detail_removed`` /
        ``base_removed``: the share of the input's detail-band (streaks) / base-band
        (haze, tone) error gone from the output; ``detail_projection``: the share of the
        streaks' layer taken away (:func:`error_bands.band_removal`, sigma 3).
    """
    from error_bands import band_removal

    from nlcl_plugin.image_io import read_image
    from nlcl_plugin.data.rain_kinds import RAIN_KINDS
    from nlcl_plugin.evaluation import KIND_METRICS, kinds_of_folder, per_kind_means
    rows = [dict(label=label, psnr=[], ssim=[], **{k: [] for k in BAND_KEYS})
            for label, _ in models]
    pictures = {}
    names = test_pairs(test_root, inputs)
    kinds = kinds_of_folder(osp.join(test_root, inputs))
    for name in names:
        rainy, _ = read_image(osp.join(test_root, inputs, name))
        clean, _ = read_image(osp.join(test_root, targets, name))
        strip = [rainy]
        for row, (_, derainer) in zip(rows, models):
            out = rainy if derainer is None else derainer(rainy)[0]
            p, s = y_metrics(out, clean)
            row['psnr'].append(p)
            row['ssim'].append(s)
            for key, share in band_removal(rainy, out, clean).items():
                row[key].append(share)
            if derainer is not None:
                strip.append(out)
        pictures[name] = strip + [clean]
    for row in rows:
        row['images'] = len(row['psnr'])
        row['names'] = names
        row['per_kind'] = per_kind_means(names, {k: row[k] for k in KIND_METRICS}, kinds,
                                         order=RAIN_KINDS)
        row['psnr_per_image'], row['ssim_per_image'] = row['psnr'], row['ssim']
        for key in BAND_KEYS:
            row[f'{key}_per_image'] = row[key]
            row[key] = sum(row[key]) / row['images']
        row['psnr'] = sum(row['psnr']) / row['images']
        row['ssim'] = sum(row['ssim']) / row['images']
    return rows, pictures


def write_pictures(pictures, titles, out_dir):
    """One strip per test image with a title over each panel."""
    import cv2
    import numpy as np

    from nlcl_plugin.image_io import write_image
    os.makedirs(out_dir, exist_ok=True)
    for name, panels in pictures.items():
        strip = np.concatenate(panels, axis=1)
        width = panels[0].shape[1]
        header = np.full((24, strip.shape[1], 3), 255, np.uint8)
        for i, title in enumerate(titles):
            cv2.putText(header, title, (i * width + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (0, 0, 0), 1, cv2.LINE_AA)
        write_image(osp.join(out_dir, osp.splitext(name)[0] + '.png'),
                    np.concatenate([header, strip], axis=0))
    return out_dir


def print_per_kind(rows):
    """The report's table per rain kind (nothing when the images have no kinds)."""
    from nlcl_plugin.data.rain_kinds import HELD_OUT_KINDS
    kinds = list(rows[0].get('per_kind') or {})
    if not kinds:
        return
    print()
    print('Per rain kind (* held out of training):')
    print(f'| {"model":<24} | {"rain kind":<18} | images | PSNR (Y) | SSIM (Y) |  vs input | '
          'streaks taken away | detail error removed |')
    print(f'| {"-" * 24} | {"-" * 18} | -----: | -------- | -------- | --------- | '
          '------------------ | -------------------- |')
    for row in rows:
        for kind in kinds:
            k = row['per_kind'][kind]
            gain = k['psnr'] - rows[0]['per_kind'][kind]['psnr']
            shown = kind + (' *' if kind in HELD_OUT_KINDS else '')
            print(f'| {row["label"]:<24} | {shown:<18} | {k["images"]:6d} | {k["psnr"]:8.3f} | '
                  f'{k["ssim"]:8.4f} | {gain:+6.2f} dB | {100 * k["detail_projection"]:16.1f} % | '
                  f'{100 * k["detail_removed"]:18.1f} % |')


def describe_cpu():
    try:
        from nlcl_plugin.hardware import describe_cpu as describe
        return describe()
    except ImportError:
        import platform
        return platform.processor() or platform.machine()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('work_dir')
    p.add_argument('--checkpoint', help='default: the latest checkpoint in WORK_DIR')
    p.add_argument('--shipped', default=DEFAULT_SHIPPED,
                   help='the shipped model (default model_zoo/nlcl_demo_s2022/'
                   'nlcl_demo_s2022.pth; skipped if absent)')
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

    label = 'this run (raw weights)' if args.raw_weights else 'this run (short demo)'
    models = [('rainy input O', None),
              (label, Derainer.from_checkpoints(ckpt, ema=False if args.raw_weights else None))]
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
