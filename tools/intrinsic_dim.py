#!/usr/bin/env python
"""Intrinsic dimension of the background and rain patch groups a model decomposes.

For every photo, the model's background B = G_B(O) and implied rain O - B are computed
(the derain tool's path), a centre crop is taken, and from each of ``--anchors`` random
anchors the non-local group of ``--group`` nearest patches (the layer loss's grouping:
16x16 patches in a 40x40 window) is formed in B and, independently, in O - B. The
intrinsic dimension (ID) of each group is estimated (Levina-Bickel MLE, k = 10, by
default) and the median over anchors is reported per photo:

    python tools/intrinsic_dim.py --checkpoint CKPT rainy_folder/ [more photos ...]
        [--crop 256] [--anchors 20] [--group 128] [--method mle|twonn] [--json out.json]

The TPAMI paper's asymmetric loss rests on the observation that non-local *background*
groups have a higher ID than *rain* groups; this tool measures it for any checkpoint
(the authors' ``latest_net_Back.pth`` included) on any photos. Prints a markdown table.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nlcl_plugin  # noqa: E402,F401  (activates the compat fixes)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Intrinsic dimension of non-local patch groups of B and O - B.')
    p.add_argument('inputs', nargs='+', help='image files, folders (recursive) or globs')
    p.add_argument('--checkpoint', required=True,
                   help="G_B weights: the authors' latest_net_Back.pth or a plugin checkpoint")
    p.add_argument('--crop', type=int, default=256,
                   help='side of the centre crop analysed (default 256; 0: whole image)')
    p.add_argument('--anchors', type=int, default=20, help='groups per photo and layer (20)')
    p.add_argument('--group', type=int, default=128, help='patches per group (128)')
    p.add_argument('--method', choices=['mle', 'twonn'], default='mle',
                   help='ID estimator (default: Levina-Bickel MLE, k = 10)')
    p.add_argument('--seed', type=int, default=0, help='seed of the anchors (0)')
    p.add_argument('--targets', default=None, metavar='FOLDER',
                   help='clean versions of the photos (same file names): also measure the '
                   'true background and the true rain O - B_clean')
    p.add_argument('--json', default=None, help='also write the results to this file')
    from nlcl_plugin.checkpoint_safety import add_trust_argument
    add_trust_argument(p)
    args = p.parse_args(argv)
    for name in ('anchors', 'group'):
        if getattr(args, name) < 1:
            p.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if args.method == 'mle' and args.group <= 10:
        p.error(f'--group must be > 10 for the MLE (k = 10), got {args.group}')
    if args.crop < 0 or 0 < args.crop < 16:
        p.error(f'--crop must be 0 or >= 16, got {args.crop}')
    return args


def centre_crop(img, size):
    """The centre ``size`` x ``size`` crop of an (H, W, C) array (whole axis if smaller)."""
    if not size:
        return img
    h, w = img.shape[:2]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return img[top:top + size, left:left + size]


def group_ids(layer, anchors, group, method, seed):
    """Median and all ``anchors`` IDs of non-local groups of ``layer`` (H, W, 3) float."""
    import torch

    from nlcl_plugin.models.intrinsic_dim import patch_group_intrinsic_dim
    x = torch.from_numpy(layer).permute(2, 0, 1)[None].double()
    gen = torch.Generator().manual_seed(seed)
    ids = torch.stack([patch_group_intrinsic_dim(x, k_patches=group, method=method,
                                                 generator=gen)[0]
                       for _ in range(anchors)])
    ids = ids[torch.isfinite(ids)]
    return (float(ids.median()) if ids.numel() else float('nan')), ids.tolist()


def measure(derainer, files, crop, anchors, group, method, seed, targets=None):
    """Per-photo ID medians of B and O - B groups (scaled to [-1, 1] as in training),
    and of the true B and O - B when ``targets`` (a folder of clean photos) is given."""
    import numpy as np

    from nlcl_plugin.image_io import read_image

    def scaled(img):
        return centre_crop(img, crop).astype(np.float64) / 127.5 - 1.0

    rows = []
    for i, path in enumerate(files):
        rgb, _ = read_image(path)
        bg, _ = derainer(rgb)
        o, b = scaled(rgb), scaled(bg)
        id_b, all_b = group_ids(b, anchors, group, method, seed + i)
        id_r, all_r = group_ids(o - b, anchors, group, method, seed + i)
        row = dict(image=osp.basename(path), id_background=id_b, id_rain=id_r,
                   ids_background=all_b, ids_rain=all_r)
        if targets:
            clean = osp.join(targets, osp.basename(path))
            if not osp.isfile(clean):
                raise FileNotFoundError(f'--targets: no clean photo {clean} for {path}')
            c = scaled(read_image(clean)[0])
            row['id_true_background'] = group_ids(c, anchors, group, method, seed + i)[0]
            row['id_true_rain'] = group_ids(o - c, anchors, group, method, seed + i)[0]
        rows.append(row)
    return rows


def _higher(a, b):
    return 'B' if a > b else ('O - B' if b > a else '=')


def markdown(rows, method):
    truth = all('id_true_background' in r for r in rows)
    head = '| photo | ID of B groups | ID of O - B groups | higher |'
    rule = '| --- | --- | --- | --- |'
    if truth:
        head += ' true B | true O - B | higher |'
        rule += ' --- | --- | --- |'
    lines = [head, rule]
    for r in rows:
        line = (f"| {r['image']} | {r['id_background']:.1f} | {r['id_rain']:.1f} | "
                f"{_higher(r['id_background'], r['id_rain'])} |")
        if truth:
            line += (f" {r['id_true_background']:.1f} | {r['id_true_rain']:.1f} | "
                     f"{_higher(r['id_true_background'], r['id_true_rain'])} |")
        lines.append(line)
    n_b = sum(r['id_background'] > r['id_rain'] for r in rows)
    lines.append(f'\n{method.upper()} medians over anchors; B groups higher on {n_b} of '
                 f'{len(rows)} photos.')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    from nlcl_plugin.image_io import collect_inputs
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.models.checkpoint import CheckpointError
    files, problems = collect_inputs(args.inputs)[:2]
    for item, why in problems:
        print(f'warning: {item}: {why}', file=sys.stderr)
    if not files:
        print('error: no images to analyse', file=sys.stderr)
        return 2
    try:
        derainer = Derainer.from_checkpoints(args.checkpoint, trust=args.trust_checkpoint)
    except (CheckpointError, OSError) as err:
        print(f'error: cannot read checkpoint {args.checkpoint}: {err}', file=sys.stderr)
        return 2
    rows = measure(derainer, files, args.crop, args.anchors, args.group, args.method,
                   args.seed, args.targets)
    print(markdown(rows, args.method))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(checkpoint=args.checkpoint, crop=args.crop, anchors=args.anchors,
                           group=args.group, method=args.method, photos=rows), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
