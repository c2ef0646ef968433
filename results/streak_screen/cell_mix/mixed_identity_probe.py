"""Does a trained G_B leave a clean cell alone only when the whole image is clean?

For every clean training cell C and every rainy training cell O of the same photograph,
the composite X takes C on the white blocks of a checkerboard of 32 x 32 blocks and O on
the black ones. Measured on C's blocks only, in [0, 255]:

* ``alone``: G_B(C) - C (what the identity loss sees in training);
* ``mixed``: G_B(X) - X (the same pixels, with rainy blocks beside them);

as the mean light removed, mean relu(C - B), and the RMS of the grey detail layer
(sigma 3) of B minus G_B's input, the texture changed, over the blocks' pixels at least
9 pixels (3 sigma) from a rainy block. Grouped by the rain kind of O.

    python mixed_identity_probe.py DATA_ROOT CHECKPOINT...
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail
from nlcl_plugin.inference import Derainer

BLOCK = 32
MARGIN = 9


def checker(h, w):
    i, j = np.meshgrid(np.arange(h) // BLOCK, np.arange(w) // BLOCK, indexing='ij')
    return (i + j) % 2 == 0  # True: the clean cell's pixels


def inner(keep, margin=MARGIN):
    """``keep`` eroded by ``margin`` pixels (the detail layer's blur reaches 3 sigma)."""
    k = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return cv2.erode(keep.astype(np.uint8), k, borderType=cv2.BORDER_REFLECT).astype(bool)


def change(b, c, keep):
    d = c.astype(np.float64) - b.astype(np.float64)  # c: the input G_B was given
    light = np.maximum(d, 0).mean(2)[keep].mean()
    texture = np.sqrt((grey_detail(b, c)[keep] ** 2).mean())
    return light, texture


def main():
    root, checkpoints = sys.argv[1], sys.argv[2:]
    images = json.load(open(osp.join(root, 'manifest.json')))['images']
    read = lambda f: cv2.imread(osp.join(root, f))[..., ::-1].copy()  # noqa: E731
    clean = [e for e in images if e['split'] == 'train_clean']
    rainy = [e for e in images if e['split'] == 'train_rainy']
    kinds = sorted({e['rain_kind'] for e in rainy})
    print('clean blocks of 32 x 32 checkerboard composites (clean cell | rainy cell of the same'
          ' photograph); light removed / texture changed (RMS of the grey detail of B - C),'
          ' [0, 255]; mean over composites')
    print('| checkpoint | alone | ' + ' | '.join(f'mixed with {k}' for k in kinds) + ' |')
    print('| --- | ---: |' + ' ---: |' * len(kinds))
    for ckpt in checkpoints:
        run = Derainer.from_checkpoints(ckpt, tile=0, threads=1)
        alone, mixed = [], {k: [] for k in kinds}
        for c_entry in clean:
            c = read(c_entry['file'])
            keep = checker(*c.shape[:2])
            where = inner(keep)
            alone.append(change(run(c)[0], c, where))
            for r_entry in rainy:
                if r_entry['source'] != c_entry['source']:
                    continue
                o = read(r_entry['file'])
                x = np.where(keep[..., None], c, o)
                mixed[r_entry['rain_kind']].append(change(run(x)[0], x, where))
        def cell(v):
            return f'{np.mean([a for a, _ in v]):.2f} / {np.mean([t for _, t in v]):.2f}'

        print(f'| {ckpt} | {cell(alone)} | ' + ' | '.join(cell(mixed[k]) for k in kinds) + ' |')


if __name__ == '__main__':
    main()
