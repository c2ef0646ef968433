"""A non-local filter as a fixed derainer, without training: rain is sparse and falls
independently of the background, so the pixels that sit at the same place in patches
similar to a pixel's own are other views of its background, mostly without rain there.
For each pixel p, the K offsets d within a square search window whose patches (P x P,
compared on a guide image) are closest to p's give the estimate

    B(p) = min(O(p), median_k O(p + d_k))        (rain adds light: only light is taken)

guide: 'O' (the rainy image), 'open' (O with its thin light T_7 taken away: the streaks
do not steer the matching), 'blur' (a Gaussian of sigma 2). Offsets shorter than
--min-offset are skipped, so a pixel's own streak (which runs on along its direction)
is not counted as its background's view.

    python nonlocal_filter.py DATA_ROOT OUT [--guide open] [--k 16] [--window 41] [--patch 7]

Writes OUT/train (the training cells) and OUT/test (the test split); score them with
tools/error_bands.py.
"""
import argparse
import glob
import os
import sys

import cv2
import torch
import torch.nn.functional as F

from nlcl_plugin.models.thin_light import white_top_hat

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'streak_floor'))
from fixed_floor import load, save  # noqa: E402


def guide_of(x, kind):
    if kind == 'O':
        return x
    if kind == 'open':
        return x - white_top_hat(x, 7)
    if kind == 'blur':
        return torch.from_numpy(cv2.GaussianBlur(x[0].permute(1, 2, 0).numpy(), (0, 0), 2)
                                ).permute(2, 0, 1)[None]
    raise ValueError(kind)


def shifted(x, dy, dx, pad, r):
    """x (1, C, H, W) read at p + (dy, dx), from its copy reflect-padded by r."""
    h, w = x.shape[-2:]
    return pad[..., r + dy:r + dy + h, r + dx:r + dx + w]


def nonlocal_estimate(x, guide, k=16, window=41, patch=7, min_offset=4):
    """(1, 3, H, W) -> the K-nearest-patch median of x, per pixel."""
    pad_r = window // 2
    xp = F.pad(x, (pad_r,) * 4, mode='reflect')
    gp = F.pad(guide, (pad_r,) * 4, mode='reflect')
    h, w = x.shape[-2:]
    best_d = torch.full((1, k, h, w), float('inf'))
    best_v = torch.zeros((3, k, h, w))
    for dy in range(-pad_r, pad_r + 1):
        for dx in range(-pad_r, pad_r + 1):
            if dy * dy + dx * dx < min_offset * min_offset:
                continue
            diff = ((shifted(guide, dy, dx, gp, pad_r) - guide) ** 2).sum(1, keepdim=True)
            dist = F.avg_pool2d(diff, patch, stride=1, padding=patch // 2,
                                count_include_pad=False)[0]            # (1, H, W)
            val = shifted(x, dy, dx, xp, pad_r)[0]                             # (3, H, W)
            worst, idx = best_d[0].max(0)                               # (H, W)
            better = dist[0] < worst
            if better.any():
                sel = better.nonzero(as_tuple=True)
                best_d[0, idx[sel], sel[0], sel[1]] = dist[0][sel]
                best_v[:, idx[sel], sel[0], sel[1]] = val[:, sel[0], sel[1]]
    med = best_v.median(1).values[None]
    return torch.minimum(x, med)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('root')
    ap.add_argument('out')
    ap.add_argument('--guide', default='open')
    ap.add_argument('--k', type=int, default=16)
    ap.add_argument('--window', type=int, default=41)
    ap.add_argument('--patch', type=int, default=7)
    ap.add_argument('--min-offset', type=int, default=4)
    ap.add_argument('--splits', nargs='+', default=['train', 'test'])
    a = ap.parse_args()
    for split in a.splits:
        src = 'train_rainy' if split == 'train' else 'test/input'
        folder = os.path.join(a.out, split)
        os.makedirs(folder, exist_ok=True)
        for path in sorted(glob.glob(os.path.join(a.root, src, '*'))):
            x = load(path)
            with torch.no_grad():
                b = nonlocal_estimate(x, guide_of(x, a.guide), a.k, a.window, a.patch,
                                      a.min_offset)
            save(os.path.join(folder, os.path.basename(path)), b)


if __name__ == '__main__':
    main()
