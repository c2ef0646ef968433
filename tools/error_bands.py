#!/usr/bin/env python
"""Where a paired test split's rain error lies: in the detail band or in the base band.

    python tools/error_bands.py [--root data/nlcl_demo/test] [--sigmas 1 3 8] [--json OUT]
    python tools/error_bands.py --inputs data/nlcl_demo/train_rainy \
        --targets data/nlcl_demo/train_target          # the demo's training crops

For each pair (rainy O, clean B) the error E = O - B is split by a Gaussian blur into its
base band GaussianBlur_sigma(E) (haze, veiling, brightness) and its detail band
E - base (streaks, texture). It prints PSNR (Y, MMagic's function) of:

* the input O itself;
* B + base: what a perfect remover of the detail band alone would score (the most a
  model can gain by judging only the detail layer, ``disc_input='gray_detail'``, sigma 3);
* B + detail: a perfect remover of the base band alone;
* B + mean(E): only the global offset per channel left.

No model is involved: this bounds what the streaks are worth in PSNR on a split.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import nlcl_plugin  # noqa: E402,F401


def bands(rainy, clean, sigma):
    """(base, detail) of E = rainy - clean, float64 (H, W, 3), base = GaussianBlur_sigma(E)."""
    import cv2
    import numpy as np
    err = rainy.astype(np.float64) - clean.astype(np.float64)
    base = cv2.GaussianBlur(err, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return base, err - base


def as_image(x):
    import numpy as np
    return np.clip(x, 0, 255).round().astype(np.uint8)


def measure(root, sigmas, inputs=None, targets=None):
    """One row per image and the mean row; keys: name, input, base_<s>, detail_<s>, offset.

    Pairs: ``root/input/X`` with ``root/target/X``, or ``inputs/X`` with ``targets/X``.
    """
    import numpy as np
    from demo_report import y_metrics

    from nlcl_plugin.image_io import read_image
    inputs = inputs or osp.join(root, 'input')
    targets = targets or osp.join(root, 'target')
    names = sorted(os.listdir(inputs))
    if not names:
        raise FileNotFoundError(f'no images in {inputs}')
    rows = []
    for name in names:
        rainy, _ = read_image(osp.join(inputs, name))
        clean, _ = read_image(osp.join(targets, name))
        row = dict(name=name, input=y_metrics(rainy, clean)[0])
        for s in sigmas:
            base, detail = bands(rainy, clean, s)
            row[f'base_{s:g}'] = y_metrics(as_image(clean + base), clean)[0]
            row[f'detail_{s:g}'] = y_metrics(as_image(clean + detail), clean)[0]
        offset = (rainy.astype(np.float64) - clean).mean(axis=(0, 1))
        row['offset'] = y_metrics(as_image(clean + offset), clean)[0]
        rows.append(row)
    keys = [k for k in rows[0] if k != 'name']
    mean = dict(name='mean', **{k: float(np.mean([r[k] for r in rows])) for k in keys})
    return rows, mean


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--root', default='data/nlcl_demo/test',
                   help='paired split with input/ and target/ (default: the demo test split; '
                   'make demo builds it)')
    p.add_argument('--inputs', help='rainy folder (instead of ROOT/input)')
    p.add_argument('--targets', help='clean folder with the same file names (instead of '
                   'ROOT/target)')
    p.add_argument('--sigmas', type=float, nargs='+', default=[1.0, 3.0, 8.0])
    p.add_argument('--json', help='also write the rows here')
    args = p.parse_args(argv)
    inputs = args.inputs or osp.join(args.root, 'input')
    targets = args.targets or osp.join(args.root, 'target')
    for folder in (inputs, targets):
        if not osp.isdir(folder):
            print(f'error: {folder} does not exist (make demo builds the demo data)',
                  file=sys.stderr)
            return 2
    rows, mean = measure(args.root, args.sigmas, inputs, targets)
    cols = ['input'] + [f'{b}_{s:g}' for s in args.sigmas for b in ('base', 'detail')] + \
        ['offset']
    heads = ['input O'] + [f'B + {b} (σ {s:g})' for s in args.sigmas
                           for b in ('base', 'detail')] + ['B + mean(E)']
    print(f'PSNR (Y) on {inputs} against {targets}: the input, and the input with one band '
          'of its error removed (B + the band that is left)')
    print('| image | ' + ' | '.join(heads) + ' |')
    print('| --- |' + ' ---: |' * len(heads))
    for row in rows + [mean]:
        print(f'| {row["name"]} | ' + ' | '.join(f'{row[c]:.2f}' for c in cols) + ' |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(inputs=inputs, targets=targets, rows=rows, mean=mean), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
