"""The streak share per image (S_{7,21} over T_7, channel means, as StreakFloorLoss reads it)
of the training cells per rain kind, of the clean cells, and of the test split per kind:
min, median and max.

    python share_by_kind.py DATA_ROOT
"""
import glob
import json
import os
import sys

import numpy as np
import torch

from fixed_floor import load
from nlcl_plugin.models.losses import streak_share


def share(path):
    with torch.no_grad():
        return float(streak_share(load(path), 7, 21).mean())


def main(root):
    manifest = json.load(open(os.path.join(root, 'manifest.json')))
    groups = {}
    for im in manifest['images']:
        if im['split'] == 'train_rainy':
            groups.setdefault(im['rain_kind'], []).append(share(os.path.join(root, im['file'])))
    groups['clean'] = [share(p) for p in sorted(glob.glob(os.path.join(root, 'train_clean', '*')))]
    for path in sorted(glob.glob(os.path.join(root, 'test', 'input', '*'))):
        kind = os.path.basename(path).split('_', 2)[2][:-4]
        groups.setdefault('test_' + kind, []).append(share(path))
    for name, v in groups.items():
        v = np.array(v)
        print(f'{name:22s} n={len(v):2d} min {v.min():.3f} median {np.median(v):.3f} '
              f'max {v.max():.3f}')


if __name__ == '__main__':
    main(sys.argv[1])
