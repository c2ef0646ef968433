#!/usr/bin/env python
"""Can the discriminator see the rain? Train D alone and test it on rain-free twins.

    python tools/discriminator_probe.py [--steps 200] [--norm instance|none]
        [--init-gain 0.02] [--disc-input image|detail|gray_detail|gray_tone_detail]
        [--num-layers 3] [--lr 2e-4] [--seed 0]

Trains NLCL's discriminator alone, with the LSGAN loss, on random ``--crop`` crops of
half of the demo's unpaired training crops (the even-numbered rainy = fake and clean =
real ones), exactly as the D step of training does while B = O (the recommended
generators start there). Every 50 steps it scores the centres of the *other* half of the
rainy crops, **the same crops without their rain** (the demo's ``train_target/``, which
training never reads) and the other half of the clean crops. A discriminator that has
learnt to see rain scores the rain-free twins higher (gap > 0, pair accuracy near 1); one
that only tells the two folders apart by their content scores both alike. The rain share
(gap over D's separation of the clean from the rainy crops) says how much of that
separation is the rain. Prints a table; ``--json`` writes it.
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
    p.add_argument('--num-layers', type=int, default=3,
                   help='downsampling stages of the PatchGAN (3: 70 px receptive field)')
    p.add_argument('--lr', type=float, default=2e-4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None)
    args = p.parse_args(argv)
    if args.steps < 1 or args.crop < 16:
        p.error('--steps must be >= 1 and --crop >= 16')
    if args.num_layers < 1:
        p.error('--num-layers must be >= 1')
    return args


def load_folder(folder):
    import torch

    from nlcl_plugin.image_io import read_image
    files = sorted(glob.glob(osp.join(folder, '*.png')))
    if not files:
        raise FileNotFoundError(f'no PNG images in {folder}')
    return files, [torch.from_numpy(read_image(f)[0]).permute(2, 0, 1).float() / 127.5 - 1
                   for f in files]


def held_out_pairs(num):
    """Indices ``(train, held_out)``: even crops train D, odd ones are only scored."""
    idx = list(range(num))
    return idx[0::2], idx[1::2]


def centre(x, s):
    """The central ``s`` x ``s`` crop of a (C, H, W) image, batched: (1, C, s, s)."""
    h, w = x.shape[1:]
    t, l_ = (h - s) // 2, (w - s) // 2
    return x[None, :, t:t + s, l_:l_ + s]


def rain_scores(d_rainy, d_twin, d_clean):
    """Summary of one check (numpy arrays of mean D scores per crop).

    gap: mean D(rain-free twin) - mean D(rainy crop); pair accuracy: share of pairs where
    the twin scores higher; rain share: the gap over D's whole separation of the folders,
    mean D(clean crop) - mean D(rainy crop), i.e. how much of what tells the folders apart
    is the rain (1: all of it, 0: none; content and tone make up the rest).
    """
    import numpy as np
    gap = float(np.mean(d_twin) - np.mean(d_rainy))
    sep = float(np.mean(d_clean) - np.mean(d_rainy))
    return dict(d_rainy=float(np.mean(d_rainy)), d_rain_free=float(np.mean(d_twin)),
                d_clean=float(np.mean(d_clean)), gap=gap,
                pair_accuracy=float(np.mean(np.asarray(d_twin) > np.asarray(d_rainy))),
                rain_share=gap / sep if abs(sep) > 1e-6 else float('nan'))


def late_summary(rows, steps):
    """Means of the checks in the last third of the run (step >= 2/3 of ``steps``):
    ``loss``, ``gap``, ``pair_accuracy``, ``rain_share``; the checks swing, so a table of
    several seeds reads better from these than from one check."""
    late = [r for r in rows if 3 * r['step'] >= 2 * steps] or rows[-1:]
    return {k: sum(r[k] for r in late) / len(late)
            for k in ('loss', 'gap', 'pair_accuracy', 'rain_share')}


def probe(args):
    import numpy as np
    import torch

    from nlcl_plugin.data import prepare_demo_data
    from nlcl_plugin.models.detail_layer import DetailLayer, GrayToneAndDetail
    from nlcl_plugin.models.discriminator import PatchDiscriminator
    paths = prepare_demo_data(args.data_root)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    _, rainy = load_folder(paths['train_rainy'])
    _, clean = load_folder(paths['train_clean'])
    twins = load_folder(paths['train_target'])[1]  # same names as train_rainy
    rainy_train, rainy_held = held_out_pairs(len(rainy))
    clean_train, clean_held = held_out_pairs(len(clean))
    view = (torch.nn.Identity() if args.disc_input == 'image' else
            GrayToneAndDetail(3.0) if args.disc_input == 'gray_tone_detail' else
            DetailLayer(3.0, gray=args.disc_input == 'gray_detail'))
    disc = PatchDiscriminator(norm=args.norm, init_gain=args.init_gain, num_layers=args.num_layers)
    opt = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    s = args.crop

    def crop(x):
        h, w = x.shape[1:]
        t, l_ = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        return x[None, :, t:t + s, l_:l_ + s]

    def score(images, picks):
        return np.array([float(disc(view(centre(images[i], s))).mean()) for i in picks])

    rows, losses, start = [], [], time.time()
    for step in range(1, args.steps + 1):
        fake = disc(view(crop(rainy[rainy_train[int(rng.integers(len(rainy_train)))]])))
        real = disc(view(crop(clean[clean_train[int(rng.integers(len(clean_train)))]])))
        loss = 0.5 * (fake ** 2).mean() + 0.5 * ((real - 1) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach().item())
        if step % 50 == 0 or step == args.steps:
            with torch.no_grad():
                row = rain_scores(score(rainy, rainy_held), score(twins, rainy_held),
                                  score(clean, clean_held))
            rows.append(dict(step=step, loss=float(np.mean(losses[-50:])), **row,
                             seconds=round(time.time() - start, 1)))
    return rows


def main(argv=None):
    args = parse_args(argv)
    rows = probe(args)
    print(f'D: norm={args.norm}, init_gain={args.init_gain}, input={args.disc_input}, '
          f'num_layers={args.num_layers}, lr={args.lr}, {args.crop}x{args.crop} crops, seed {args.seed}; '
          'scored on held-out crops (centre)')
    print('| step | D loss (last 50) | D(rainy) | D(same crop, no rain) | D(clean) | gap | '
          'pair accuracy | rain share |')
    print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        print(f"| {r['step']} | {r['loss']:.3f} | {r['d_rainy']:.3f} | {r['d_rain_free']:.3f} | "
              f"{r['d_clean']:.3f} | {r['gap']:+.3f} | {r['pair_accuracy']:.2f} | {r['rain_share']:.2f} |")
    late = late_summary(rows, args.steps)
    print(f"last third (steps >= {2 * args.steps // 3}), mean: D loss {late['loss']:.3f}, "
          f"gap {late['gap']:+.3f}, pair accuracy {late['pair_accuracy']:.2f}, "
          f"rain share {late['rain_share']:.2f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows, last_third=late), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
