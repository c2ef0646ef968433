"""The streak floor as a fixed filter, without training: from each rainy crop, take away
its streak light S_{7,21} (per channel, along the channel mean's dominant direction) above
the clean crops' share r of its thin light T_7, uniformly over the crop:

    B = O - g S(O),   g = clip(1 - r mean T(O) / mean S(O), 0, 1),

r = the mean over the clean crops of mean S / mean T. Also the whole streak light (g = 1).
Writes both outputs' folders under OUT; score them with tools/error_bands.py. Prints r, and
r as StreakFloorLoss computes it (channel means first).

    python fixed_floor.py DATA_ROOT OUT
"""
import glob
import os
import sys

import cv2
import numpy as np
import torch

from nlcl_plugin.models.losses import streak_share
from nlcl_plugin.models.streak_light import streak_light
from nlcl_plugin.models.thin_light import white_top_hat


def load(path):
    x = cv2.imread(path)[:, :, ::-1].astype(np.float32) / 127.5 - 1
    return torch.from_numpy(x.copy()).permute(2, 0, 1)[None]


def save(path, x):
    y = ((x[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    cv2.imwrite(path, y[:, :, ::-1])


def clean_ratio(clean):
    """r: the mean over the clean crops of mean S_{7,21} / mean T_7 (per channel)."""
    with torch.no_grad():
        return float(np.mean([(streak_light(x, 7, 21).mean() / white_top_hat(x, 7).mean()).item()
                              for x in clean]))


def main(root, out):
    clean = [load(p) for p in sorted(glob.glob(os.path.join(root, 'train_clean', '*')))]
    r = clean_ratio(clean)
    with torch.no_grad():
        r_loss = float(torch.cat([streak_share(x, 7, 21) for x in clean]).mean())
    print(f'r = {r:.4f} (per channel); {r_loss:.4f} (channel means, as StreakFloorLoss)')
    for split, src in (('train', 'train_rainy'), ('test', 'test/input')):
        for name in ('whole', 'floor'):
            folder = os.path.join(out, f'{name}_{split}')
            os.makedirs(folder, exist_ok=True)
            for path in sorted(glob.glob(os.path.join(root, src, '*'))):
                x = load(path)
                with torch.no_grad():
                    s, t = streak_light(x, 7, 21), white_top_hat(x, 7)
                g = 1.0 if name == 'whole' else float(
                    np.clip(1 - r * t.mean().item() / max(s.mean().item(), 1e-8), 0, 1))
                save(os.path.join(folder, os.path.basename(path)), x - g * s)


if __name__ == '__main__':
    main(*sys.argv[1:3])
