"""How strongly each training cell's thin light runs along one direction, per kind.

For every rainy and clean training cell: the thin light T_7 of the channel mean, its line
opening (21 px) along each of the 24 candidate angles, and
  peak / median: the energy along the dominant angle over the median over all angles;
  streak share:  the streak light's energy over the thin light's.
A cell without a rain direction (drops, clean) should score lower than a streak cell if
a gate on the direction's strength is to keep the mask off its texture.

    python results/streak_screen/hold_texture/direction_strength.py data/nlcl_demo_same_places
"""
import json
import statistics
import sys
from pathlib import Path

import torch

from nlcl_plugin.image_io import read_image
from nlcl_plugin.models.streak_light import STREAK_ANGLES, line_opening
from nlcl_plugin.models.thin_light import white_top_hat


def strength(path: Path):
    rgb, _ = read_image(str(path))
    x = torch.from_numpy(rgb).float().permute(2, 0, 1)[None] / 127.5 - 1.0
    thin = white_top_hat(x.mean(1, keepdim=True), 7)
    energy = torch.stack([line_opening(thin, 21, a).sum() for a in STREAK_ANGLES])
    peak = float(energy.max())
    return peak / max(float(energy.median()), 1e-8), peak / max(float(thin.sum()), 1e-8)


def main(root: str) -> None:
    root = Path(root)
    manifest = json.loads((root / 'manifest.json').read_text())
    groups = {}
    for item in manifest['images']:
        if item['split'] == 'train_rainy':
            groups.setdefault(item['rain_kind'], []).append(strength(root / item['file']))
    groups['clean cells'] = [strength(p) for p in sorted((root / 'train_clean').glob('*.png'))]
    print(f"{'cells':<18} {'n':>3} {'peak/median (min, median, max)':>34} {'streak share (median)':>22}")
    for kind, vals in groups.items():
        r = sorted(v[0] for v in vals)
        s = statistics.median(v[1] for v in vals)
        print(f'{kind:<18} {len(vals):>3} {r[0]:>12.2f} {statistics.median(r):>10.2f} {r[-1]:>10.2f} '
              f'{s:>22.3f}')


if __name__ == '__main__':
    main(sys.argv[1])
