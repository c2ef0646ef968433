"""D's mean score over crops it trained on as real, crops of the same scenes it never saw
(the rainy crops' rain-free twins), the rainy crops O and G_B's outputs B, per checkpoint.

    python d_scores.py CONFIG RUN_DIR ITER... --rainy R --targets T --clean C

Reads: a D that has memorised its clean crops scores them above the unseen twins
(train_clean - twins > 0 and growing); a D that sees rain scores the twins above
their rainy crops (twins - O > 0), with the same content on both sides.
"""
import argparse
import os.path as osp

import torch

from nlcl_plugin.evaluation.mask_forces import folder_crops, load_model, to_tensor


def main():
    p = argparse.ArgumentParser()
    p.add_argument('config')
    p.add_argument('run_dir')
    p.add_argument('iters', nargs='+', type=int)
    p.add_argument('--rainy', required=True)
    p.add_argument('--targets', required=True)
    p.add_argument('--clean', required=True)
    p.add_argument('--size', type=int, default=128)
    a = p.parse_args()
    triples = folder_crops(a.rainy, a.targets, a.clean, a.size)
    rainy, twin, clean = (to_tensor([t[i] for t in triples]) for i in range(3))
    print(f'{len(triples)} crops of {a.size}; columns: mean D score (1 = real, 0 = fake)')
    print(f"{'iter':>6} {'clean':>7} {'twins':>7} {'O':>7} {'B':>7} "
          f"{'clean-twins':>12} {'twins-O':>8} {'twins-B':>8}")
    torch.set_grad_enabled(False)
    for it in a.iters:
        model = load_model(a.config, osp.join(a.run_dir, f'iter_{it}.pth'))
        d, view = model.discriminator, model.nlcl_objective.disc_view
        bg = torch.cat([model.generator(rainy[i:i + 8]) for i in range(0, len(rainy), 8)])
        s = {k: float(torch.cat([d(view(x[i:i + 8])).flatten(1).mean(1)
                                 for i in range(0, len(x), 8)]).mean())
             for k, x in dict(clean=clean, twins=twin, O=rainy, B=bg).items()}
        print(f"{it:>6} {s['clean']:7.3f} {s['twins']:7.3f} {s['O']:7.3f} {s['B']:7.3f} "
              f"{s['clean'] - s['twins']:12.3f} {s['twins'] - s['O']:8.3f} "
              f"{s['twins'] - s['B']:8.3f}")


if __name__ == '__main__':
    main()
