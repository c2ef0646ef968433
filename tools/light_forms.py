#!/usr/bin/env python
"""What a light form of G_B can take away at best, from the rain-free twins.

    python tools/light_forms.py [--inputs data/nlcl_demo/train_rainy] \
        [--targets data/nlcl_demo/train_target] [--forms streak:7:21 thin:7] [--json OUT]

For each form (``thin:K``: the thin light T_K(O); ``streak:K:L``: the streak light
S_{K,L}(O), as G_B's ``thin_light_size`` / ``streak_length`` compute them) it prints the
fixed filter O - L(O) (the mask at 1 everywhere) and the best mask's O - m* L(O), with
m* = clip(<O - B, L> / <L, L>, 0, 1) per pixel: no training can take more of the streak
layer with that form. Scores: PSNR/SSIM (Y), the share of the streak layer taken away
and of the detail- and base-band error removed (tools/error_bands.py), overall and per
rain kind. See nlcl_plugin/evaluation/light_forms.py.
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.light_forms import form_bounds, parse_form  # noqa: E402


def _row(label, m):
    return (f'| {label} | {m["psnr"]:.2f} / {m["ssim"]:.4f} | {100 * m["detail_projection"]:.1f} % '
            f'| {100 * m["detail_removed"]:.1f} % | {100 * m["base_removed"]:.1f} % |')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--inputs', default='data/nlcl_demo/train_rainy')
    p.add_argument('--targets', default='data/nlcl_demo/train_target')
    p.add_argument('--forms', nargs='+', default=['streak:7:21', 'thin:7'])
    p.add_argument('--sigma', type=float, default=3.0)
    p.add_argument('--json', help='also write every score here')
    args = p.parse_args(argv)
    for form in args.forms:
        try:
            parse_form(form)
        except ValueError as e:
            p.error(f'--forms: {e}')
    for folder in (args.inputs, args.targets):
        if not osp.isdir(folder):
            print(f'error: {folder} does not exist (make demo builds the demo data)',
                  file=sys.stderr)
            return 2
    res = form_bounds(args.inputs, args.targets, args.forms, args.sigma)
    print(f'{len(res["names"])} pairs of {args.inputs} against {args.targets}; input '
          f'{res["input"]["psnr"]:.2f} dB / {res["input"]["ssim"]:.4f}')
    print('| form | PSNR / SSIM (Y) | streak layer taken away | detail-band error removed '
          '| base-band error removed |')
    print('| --- | --- | ---: | ---: | ---: |')
    for form, variants in res['forms'].items():
        for variant, label in (('fixed', 'fixed filter'), ('best', 'best mask')):
            print(_row(f'{form}, {label}', variants[variant]['mean']))
    kinds = sorted({k for v in res['forms'].values() for k in v['best']['per_kind']})
    if kinds:
        print('\nStreak layer taken away per rain kind (fixed filter / best mask):')
        print('| form | ' + ' | '.join(kinds) + ' |')
        print('| --- |' + ' ---: |' * len(kinds))
        for form, v in res['forms'].items():
            cells = [f'{100 * v["fixed"]["per_kind"][k]["detail_projection"]:.1f} / '
                     f'{100 * v["best"]["per_kind"][k]["detail_projection"]:.1f} %'
                     if k in v['best']['per_kind'] else '-' for k in kinds]
            print(f'| {form} | ' + ' | '.join(cells) + ' |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
