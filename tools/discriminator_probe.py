#!/usr/bin/env python
"""Can the discriminator see the rain? Train D alone and test it on rain-free twins.

    python tools/discriminator_probe.py [--steps 200] [--norm instance|none]
        [--init-gain 0.02] [--disc-input image|detail|gray_detail|gray_tone_detail] [--lr 2e-4] [--seed 0]

Trains NLCL's discriminator alone, with the LSGAN loss, on random ``--crop`` crops of the
demo's unpaired training folders (rainy = fake, clean = real), exactly as the D step of
training does while B = O (the recommended generators start there). Every 50 steps it
scores 8 fixed rainy crops and **the same crops without their rain** (the demo's
``train_target/``, which training never reads): a discriminator that has learnt to see
rain scores the rain-free twins higher; one that only tells the clean photographs apart
by their content scores both alike. Prints a table; ``--json`` writes it.
"""
import argparse
import glob
import json
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import nlcl_plugin  # noqa: E402,F401


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', default=osp.join(REPO, 'data', 'nlcl_demo'),
                   help='demo data (built if missing)')
    p.add_argument('--steps', type=int, default=200)
    p.add_argument('--crop', type=int, default=128)
    p.add_argument('--norm', choices=['instance', 'none'], default='instance')
    p.add_argument('--init-gain', type=float, default=0.02)
    p.add_argument('--disc-input', choices=['image', 'detail', 'gray_detail', 'gray_tone_detail'],
                   default='image')
    p.add_argument('--lr', type=float, default=2e-4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None)
    args = p.parse_args(argv)
    if args.steps < 1 or args.crop < 16:
        p.error('--steps must be >= 1 and --crop >= 16')
    return args


def load_folder(folder):
    import torch

    from nlcl_plugin.image_io import read_image
    files = sorted(glob.glob(osp.join(folder, '*.png')))
    if not files:
        raise FileNotFoundError(f'no PNG images in {folder}')
    return files, [torch.from_numpy(read_image(f)[0]).permute(2, 0, 1).float() / 127.5 - 1
                   for f in files]


def probe(args):
    import numpy as np
    import torch

    from nlcl_plugin.data import prepare_demo_data
    from nlcl_plugin.models.detail_layer import DetailLayer, GrayToneAndDetail
    from nlcl_plugin.models.discriminator import PatchDiscriminator
    paths = prepare_demo_data(args.data_root)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    rainy_files, rainy = load_folder(paths['train_rainy'])
    _, clean = load_folder(paths['train_clean'])
    twins = load_folder(paths['train_target'])[1]  # same names as train_rainy
    view = (torch.nn.Identity() if args.disc_input == 'image' else
            GrayToneAndDetail(3.0) if args.disc_input == 'gray_tone_detail' else
            DetailLayer(3.0, gray=args.disc_input == 'gray_detail'))
    disc = PatchDiscriminator(norm=args.norm, init_gain=args.init_gain)
    opt = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    s = args.crop

    def crop(x):
        h, w = x.shape[1:]
        t, l_ = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        return x[None, :, t:t + s, l_:l_ + s]

    picks = np.linspace(0, len(rainy) - 1, 8).round().astype(int)
    rows, losses, start = [], [], time.time()
    for step in range(1, args.steps + 1):
        fake = disc(view(crop(rainy[int(rng.integers(len(rainy)))])))
        real = disc(view(crop(clean[int(rng.integers(len(clean)))])))
        loss = 0.5 * (fake ** 2).mean() + 0.5 * ((real - 1) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach().item())
        if step % 50 == 0 or step == args.steps:
            with torch.no_grad():
                d_rain = [float(disc(view(rainy[i][None, :, :s, :s])).mean()) for i in picks]
                d_twin = [float(disc(view(twins[i][None, :, :s, :s])).mean()) for i in picks]
            rows.append(dict(step=step, loss=float(np.mean(losses[-50:])),
                             d_rainy=float(np.mean(d_rain)), d_rain_free=float(np.mean(d_twin)),
                             seconds=round(time.time() - start, 1)))
    return rows


def main(argv=None):
    args = parse_args(argv)
    rows = probe(args)
    print(f'D: norm={args.norm}, init_gain={args.init_gain}, input={args.disc_input}, '
          f'lr={args.lr}, {args.crop}x{args.crop} crops, seed {args.seed}')
    print('| step | D loss (last 50) | D(rainy crop) | D(same crop, no rain) | gap |')
    print('| ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        print(f"| {r['step']} | {r['loss']:.3f} | {r['d_rainy']:.3f} | {r['d_rain_free']:.3f} | "
              f"{r['d_rain_free'] - r['d_rainy']:+.3f} |")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
