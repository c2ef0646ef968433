#!/usr/bin/env python
"""Where a paired test split's rain error lies: in the detail band or in the base band.

    python tools/error_bands.py [--root data/nlcl_demo/test] [--sigmas 1 3 8] [--json OUT]
    python tools/error_bands.py --inputs data/nlcl_demo/train_rainy \
        --targets data/nlcl_demo/train_target          # the demo's training crops
    python tools/error_bands.py --outputs DERAINED [...] [--labels NAME ...] [--figure OUT.jpg]

For each pair (rainy O, clean B) the error E = O - B is split by a Gaussian blur into its
base band GaussianBlur_sigma(E) (haze, veiling, brightness) and its detail band
E - base (streaks, texture). It prints PSNR (Y, MMagic's function) of:

* the input O itself;
* B + base: what a perfect remover of the detail band alone would score (the most a
  model can gain by judging only the detail layer, ``disc_input='gray_detail'``, sigma 3);
* B + detail: a perfect remover of the base band alone;
* B + mean(E): only the global offset per channel left.

No model is involved: this bounds what the streaks are worth in PSNR on a split.

With ``--outputs DIR [DIR ...]`` (a model's results under the same file names, e.g. from
``tools/derain.py``) it also measures what each model removed, band by band: the share of
the input's detail-band error (streaks) and of its base-band error (haze, tone) that is
gone from the output, on Y, ``1 - rms(band(output - B)) / rms(band(O - B))`` (1: all of
it; 0: as much as in the input; below 0: the model added error in that band), and how far
the output moved along the input's detail-band error (its projection: the part of the
streaks' layer taken away, whatever else changed in the band).
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.data.rain_kinds import HELD_OUT_KINDS, RAIN_KINDS  # noqa: E402
from nlcl_plugin.evaluation.error_bands import (band_figure, measure,  # noqa: E402
                                                measure_outputs)
from nlcl_plugin.evaluation.per_kind import kinds_of_folder, per_kind_means  # noqa: E402

#: What the per-kind table shows of each output, in this order.
KIND_SCORES = ('detail_projection', 'detail_removed', 'psnr')


def _print_per_kind(labels, removed, inputs_psnr):
    """Per rain kind (the demo manifest's): streak layer taken away, detail-band error
    removed and PSNR of each output, below the input's PSNR."""
    order = list(next(iter(removed.values()))['per_kind'])
    if not order:  # no output image has a recorded kind
        return
    print('\nPer rain kind (streak layer taken away / detail-band error removed / PSNR; '
          '* held out of training)')
    print('| outputs | ' + ' | '.join(k + ('*' if k in HELD_OUT_KINDS else '')
                                      for k in order) + ' |')
    print('| --- |' + ' ---: |' * len(order))
    print('| input O | ' + ' | '.join(f"{inputs_psnr[k]['psnr']:.2f}" for k in order) + ' |')
    for label, r in zip(labels, removed.values()):
        cells = [f"{100 * m['detail_projection']:.1f} % / {100 * m['detail_removed']:.1f} % / "
                 f"{m['psnr']:.2f}" for m in (r['per_kind'][k] for k in order)]
        print(f'| {label} | ' + ' | '.join(cells) + ' |')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--root', default='data/nlcl_demo/test',
                   help='paired split with input/ and target/ (default: the demo test split; '
                   'make demo builds it)')
    p.add_argument('--inputs', help='rainy folder (instead of ROOT/input)')
    p.add_argument('--targets', help='clean folder with the same file names (instead of '
                   'ROOT/target)')
    p.add_argument('--sigmas', type=float, nargs='+', default=[1.0, 3.0, 8.0])
    p.add_argument('--outputs', nargs='+', default=[],
                   help="models' outputs (folders with the inputs' file names): measure "
                   'what each removed from each band (sigma 3)')
    p.add_argument('--labels', nargs='+', help='names of the --outputs in the table and figure')
    p.add_argument('--figure', help='write a picture: rainy | outputs | clean for --figure-images, '
                   'each over its detail-band error map (4x, mid-grey = none)')
    p.add_argument('--figure-images', nargs='+', default=None,
                   help='file names for --figure (default: the first two)')
    p.add_argument('--json', help='also write the rows here')
    args = p.parse_args(argv)
    if args.labels and len(args.labels) != len(args.outputs):
        p.error('--labels needs one name per --outputs folder')
    inputs = args.inputs or osp.join(args.root, 'input')
    targets = args.targets or osp.join(args.root, 'target')
    for folder in [inputs, targets] + args.outputs:
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
    removed = {}
    kinds = kinds_of_folder(inputs)
    for folder in args.outputs:
        out_rows, out_mean = measure_outputs(inputs, targets, folder)
        removed[folder] = dict(rows=out_rows, mean=out_mean)
        if kinds:
            names = [r['name'] for r in out_rows]
            scores = {k: [r[k] for r in out_rows] for k in KIND_SCORES}
            removed[folder]['per_kind'] = per_kind_means(names, scores, kinds, RAIN_KINDS)
    if args.outputs:
        print('\nWhat each model removed: the share of the input\'s error (Y) gone from its '
              'output, in the detail band (streaks) and the base band (haze, tone), sigma 3')
        print('| outputs | PSNR (Y) | SSIM (Y) | detail-band error removed | '
              'base-band error removed | detail-band error taken away along it |')
        print('| --- | ---: | ---: | ---: | ---: | ---: |')
        labels = args.labels or args.outputs
        for label, (folder, r) in zip(labels, removed.items()):
            m = r['mean']
            print(f"| {label} | {m['psnr']:.2f} | {m['ssim']:.4f} | "
                  f"{100 * m['detail_removed']:.1f} % | {100 * m['base_removed']:.1f} % | "
                  f"{100 * m['detail_projection']:.1f} % |")
        if kinds:
            inputs_psnr = per_kind_means([r['name'] for r in rows],
                                         {'psnr': [r['input'] for r in rows]}, kinds, RAIN_KINDS)
            _print_per_kind(labels, removed, inputs_psnr)
    if args.figure:
        names = args.figure_images or sorted(os.listdir(inputs))[:2]
        band_figure(inputs, targets, args.outputs, args.labels or args.outputs, names,
                    args.figure)
        print(f'figure: {args.figure}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(inputs=inputs, targets=targets, rows=rows, mean=mean,
                           outputs=removed), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
