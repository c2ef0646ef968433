#!/usr/bin/env python
"""Evaluate a demo training run: PSNR/SSIM (Y) of the rainy input and of NLCL's B on the
demo test split, and where to find the pictures.

    python tools/demo_report.py configs/nlcl_demo.py work_dirs/nlcl_demo [--checkpoint CKPT]
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nlcl_plugin  # noqa: E402,F401


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


def input_metrics(test_root):
    """PSNR/SSIM (Y channel, MMagic's functions) of the rainy inputs themselves."""
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.evaluation.metrics.ssim import ssim

    from nlcl_plugin.image_io import read_image
    names = sorted(os.listdir(osp.join(test_root, 'input')))
    ps, ss = [], []
    for name in names:
        rainy, _ = read_image(osp.join(test_root, 'input', name))
        clean, _ = read_image(osp.join(test_root, 'target', name))
        ps.append(psnr(rainy, clean, crop_border=0, input_order='HWC', convert_to='Y',
                       channel_order='rgb'))
        ss.append(ssim(rainy, clean, crop_border=0, input_order='HWC', convert_to='Y',
                       channel_order='rgb'))
    return float(sum(ps) / len(ps)), float(sum(ss) / len(ss)), len(names)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('work_dir')
    p.add_argument('--checkpoint', help='default: the latest checkpoint in WORK_DIR')
    args = p.parse_args(argv)
    from nlcl_plugin.mmagic.runner_utils import build_runner
    ckpt = args.checkpoint or latest_checkpoint(args.work_dir)
    runner = build_runner(args.config, work_dir=osp.join(args.work_dir, 'demo_test'),
                          load_from=ckpt,
                          cfg_options=dict(train_dataloader=None, train_cfg=None,
                                           optim_wrapper=None, param_scheduler=None))
    metrics = runner.test()
    test_root = runner.cfg.test_dataloader.dataset.data_root
    in_psnr, in_ssim, n = input_metrics(test_root)
    out_psnr = float(metrics.get('PSNR', float('nan')))
    out_ssim = float(metrics.get('SSIM', float('nan')))
    vis = osp.join(runner.log_dir, 'vis_data', 'vis_image')
    train_vis = sorted(glob.glob(osp.join(args.work_dir, '*', 'vis_data', 'vis_image')))
    print()
    print(f'Demo test split: {n} paired images under {test_root} (checkpoint {ckpt})')
    print('| image            | PSNR (Y) | SSIM (Y) |')
    print('| ---------------- | -------- | -------- |')
    print(f'| rainy input O    | {in_psnr:8.3f} | {in_ssim:8.4f} |')
    print(f'| NLCL background  | {out_psnr:8.3f} | {out_ssim:8.4f} |')
    print()
    print(f'Test pictures (input | background | rain | clean): {vis}')
    if train_vis:
        print(f'Training decompositions (rainy | background | rain): {train_vis[-1]}')
    print(f'TensorBoard: tensorboard --logdir {args.work_dir}')
    with open(osp.join(args.work_dir, 'demo_report.json'), 'w') as f:
        json.dump(dict(checkpoint=ckpt, images=n, input_psnr=in_psnr, input_ssim=in_ssim,
                       psnr=out_psnr, ssim=out_ssim), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
