#!/usr/bin/env python
"""Which loss terms raise or lower G_B's streak-light mask, on rain and on texture.

    python tools/mask_forces.py CONFIG CHECKPOINT [--inputs data/nlcl_demo/train_rainy] \
        [--targets data/nlcl_demo/train_target] [--clean data/nlcl_demo/train_clean] \
        [--crop 128] [--json OUT] [--trust-checkpoint]

Loads the model of CONFIG with CHECKPOINT's weights (the raw G_B, not its moving
average: the one the terms train; read weights-only unless --trust-checkpoint), takes
the centre crop of every rainy image, of its rain-free twin and of a clean image, and
prints each generator-step term's push on the
mask (minus its gradient on the mask's pre-activation), summed over the streak light's
rain pixels and texture pixels (see nlcl_plugin/evaluation/mask_forces.py), and the mean
mask on each. Positive: the term raises the mask.
"""
import argparse
import json
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--inputs', default='data/nlcl_demo/train_rainy')
    p.add_argument('--targets', default='data/nlcl_demo/train_target')
    p.add_argument('--clean', default='data/nlcl_demo/train_clean')
    p.add_argument('--crop', type=int, default=128)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json')
    p.add_argument('--figure', help='also draw the first --figure-crops crops: rainy | streak '
                   'light (x4) | rain (green) and texture (red) pixels | the mask')
    p.add_argument('--figure-crops', type=int, nargs='+', default=[0, 1],
                   help='indices of the crops (in file-name order) in --figure')
    p.add_argument('--figure-with', nargs=2, action='append', default=[],
                   metavar=('CONFIG', 'CHECKPOINT'),
                   help="also draw this model's mask in --figure (repeatable)")
    add_trust_argument(p)
    args = p.parse_args(argv)
    extra = [p for pair in args.figure_with for p in pair]
    for path in (args.config, args.checkpoint, args.inputs, args.targets, args.clean, *extra):
        if not osp.exists(path):
            print(f'error: {path} does not exist', file=sys.stderr)
            return 2
    from nlcl_plugin.evaluation.mask_forces import (folder_crops, load_model,
                                                    summed_forces, to_tensor)
    from nlcl_plugin.models.checkpoint import CheckpointError

    try:
        model = load_model(args.config, args.checkpoint, args.trust_checkpoint)
        others = [load_model(c, k, args.trust_checkpoint) for c, k in args.figure_with]
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    triples = folder_crops(args.inputs, args.targets, args.clean, args.crop)
    if not triples:
        print(f'error: no image of {args.inputs} is at least {args.crop} pixels on each side',
              file=sys.stderr)
        return 2
    summary = summed_forces(model, triples, args.batch, args.seed)
    m = summary.pop('mask')
    print(f'{len(triples)} crops of {args.crop} px; mask mean {m["all"]:.3f}, on rain '
          f'{m["rain"]:.3f} ({m["rain_pixels"]} px), on texture {m["texture"]:.3f} '
          f'({m["texture_pixels"]} px)')
    print('| term | value | push on rain pixels | push on texture pixels | push on all |')
    print('| --- | ---: | ---: | ---: | ---: |')
    for term, v in summary.items():
        print(f'| {term} | {v["value"]:.4f} | {v["rain"]:+.3e} | {v["texture"]:+.3e} '
              f'| {v["all"]:+.3e} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(summary, mask=m), f, indent=1)
    if args.figure:
        import cv2

        from nlcl_plugin.evaluation.mask_forces import mask_figure
        chosen = [triples[i] for i in args.figure_crops if 0 <= i < len(triples)]
        if not chosen:
            print(f'error: --figure-crops: no index below {len(triples)}', file=sys.stderr)
            return 2
        img = mask_figure([model] + others, to_tensor([t[0] for t in chosen]),
                          to_tensor([t[1] for t in chosen]))
        params = ([cv2.IMWRITE_JPEG_QUALITY, 90]
                  if args.figure.lower().endswith(('.jpg', '.jpeg')) else [])
        cv2.imwrite(args.figure, img[..., ::-1], params)
    return 0


if __name__ == '__main__':
    sys.exit(main())
