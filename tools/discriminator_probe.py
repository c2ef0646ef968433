#!/usr/bin/env python
"""Can the discriminator see the rain? Train D alone and test it on rain-free twins.

    python tools/discriminator_probe.py [--steps 200] [--norm instance|none]
        [--init-gain 0.02] [--disc-input image|detail|gray_detail|gray_tone_detail]
        [--num-layers 3] [--lr 2e-4] [--seed 0] [--augment none|dihedral] [--r1-gamma 0]
        [--batch 1] [--folders RAINY CLEAN TARGETS]

Trains NLCL's discriminator alone, with the LSGAN loss, on random ``--crop`` crops of
half of the demo's unpaired training crops (the even-numbered rainy = fake and clean =
real ones), exactly as the D step of training does while B = O (the recommended
generators start there). Every 50 steps it scores the centres of the *other* half of the
rainy crops, **the same crops without their rain** (the demo's ``train_target/``, which
training never reads) and the other half of the clean crops. A discriminator that has
learnt to see rain scores the rain-free twins higher (gap > 0, pair accuracy near 1); one
that only tells the two folders apart by their content scores both alike. The rain share
(gap over D's separation of the clean from the rainy crops) says how much of that
separation is the rain. The last two columns say how much higher D scores the clean
crops it trains on than the held-out ones, and how much lower the rainy crops it trains on
(what it has learnt by heart). ``--folders`` probes other folders than the demo's (the
twins named as their rainy crops). Prints a table; ``--json`` writes it.
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.discriminator_probe import late_summary, probe  # noqa: E402


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
    p.add_argument('--augment', choices=['none', 'dihedral'], default='none',
                   help='judge every crop under a random symmetry of the square')
    p.add_argument('--r1-gamma', type=float, default=0.0, help='R1 penalty on the real crops')
    p.add_argument('--batch', type=int, default=1, help='rainy and clean crops per step')
    p.add_argument('--folders', nargs=3, metavar=('RAINY', 'CLEAN', 'TARGETS'), default=None,
                   help="rainy, clean and rain-free twin folders instead of the demo's")
    p.add_argument('--json', default=None)
    args = p.parse_args(argv)
    if args.steps < 1 or args.crop < 16:
        p.error('--steps must be >= 1 and --crop >= 16')
    if args.num_layers < 1:
        p.error('--num-layers must be >= 1')
    if args.batch < 1 or args.r1_gamma < 0:
        p.error('--batch must be >= 1 and --r1-gamma >= 0')
    for folder in args.folders or ():
        if not osp.isdir(folder):
            p.error(f'--folders: {folder} is not a folder')
    return args


def main(argv=None):
    args = parse_args(argv)
    rows = probe(args.data_root, steps=args.steps, crop=args.crop, norm=args.norm,
                 init_gain=args.init_gain, disc_input=args.disc_input,
                 num_layers=args.num_layers, lr=args.lr, seed=args.seed,
                 augment=args.augment, r1_gamma=args.r1_gamma, batch=args.batch,
                 folders=None if args.folders is None else dict(
                     zip(('train_rainy', 'train_clean', 'train_target'), args.folders)))
    print(f'D: norm={args.norm}, init_gain={args.init_gain}, input={args.disc_input}, '
          f'num_layers={args.num_layers}, lr={args.lr}, {args.crop}x{args.crop} crops, seed {args.seed}, '
          f'augment={args.augment}, r1_gamma={args.r1_gamma}, batch {args.batch}; '
          'scored on held-out crops (centre)')
    print('| step | D loss (last 50) | D(rainy) | D(same crop, no rain) | D(clean) | gap | '
          'pair accuracy | rain share | clean: trained on - held out | rainy: held out - trained on |')
    print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        print(f"| {r['step']} | {r['loss']:.3f} | {r['d_rainy']:.3f} | {r['d_rain_free']:.3f} | "
              f"{r['d_clean']:.3f} | {r['gap']:+.3f} | {r['pair_accuracy']:.2f} | {r['rain_share']:.2f} | "
              f"{r['memorised']:+.3f} | {r['memorised_fake']:+.3f} |")
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
