"""The streak light opened along a fan of directions: what its best mask can hold.

``tools/light_forms.py`` bounds the streak light ``S_{k,L}`` opened along each image's
dominant direction. Here the opening is the maximum over the dominant direction and its
``spread`` neighbours on each side (7.5 degrees apart; a spread of 12 covers every
direction), to tell whether the angle or the line holds the bound down. Scored as
``tools/light_forms.py`` scores its best mask (streak layer taken away, on Y, sigma 3).

    .venv/bin/python results/streak_screen/same_places_kinds/fan_bounds.py data/nlcl_demo_same_places 7 21 0 1 12
"""
import os
import os.path as osp
import sys

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.error_bands import band_removal  # noqa: E402
from nlcl_plugin.evaluation.light_forms import _to_image, _to_tensor, best_mask  # noqa: E402
from nlcl_plugin.image_io import read_image  # noqa: E402
from nlcl_plugin.models.streak_light import STREAK_ANGLES, dominant_angle, line_opening  # noqa: E402
from nlcl_plugin.models.thin_light import white_top_hat  # noqa: E402


def fan_light(x, size, length, spread):
    thin = white_top_hat(x, size)
    j = int(dominant_angle(thin, length)[0])
    n = len(STREAK_ANGLES)
    return torch.stack([line_opening(thin, length, STREAK_ANGLES[(j + d) % n])
                        for d in range(-spread, spread + 1)]).amax(0)


def main(root, size, length, *spreads):
    names = sorted(os.listdir(osp.join(root, 'train_rainy')))
    for spread in spreads:
        taken = []
        for name in names:
            rainy = read_image(osp.join(root, 'train_rainy', name))[0]
            clean = read_image(osp.join(root, 'train_target', name))[0]
            x, b = _to_tensor(rainy), _to_tensor(clean)
            with torch.no_grad():
                light = fan_light(x, size, length, spread)
                out = _to_image(x - best_mask(x, b, light) * light)
            taken.append(band_removal(rainy, out, clean, 3.0)['detail_projection'])
        print(f'streak light {size}:{length}, directions ±{spread} x 7.5°: best mask takes '
              f'{100 * np.mean(taken):.1f} % of the streak layer ({len(names)} pairs)')


if __name__ == '__main__':
    main(sys.argv[1], *map(int, sys.argv[2:]))
