"""docs/figures/decay_probe_drops.jpg: the centre 64 x 64 of drops cells, four times
enlarged: rainy | rain-free twin | seed 1's continuation under the original schedule at
2400 | the same with both rates held.

    python figure.py DATA_ROOT WORK_DIRS OUT.jpg
"""
import os.path as osp
import sys

import cv2
import numpy as np

CELLS = ('rain_astronaut_20_0.png', 'rain_astronaut_33_0.png')


def main():
    root, work, out = sys.argv[1:4]
    rows = []
    for name in CELLS:
        paths = (osp.join(root, 'train_rainy', name), osp.join(root, 'train_target', name),
                 osp.join(work, 'decay_s1_ctl', 'out_2400', 'train_rainy', name),
                 osp.join(work, 'decay_s1_hold', 'out_2400', 'train_rainy', name))
        tiles = []
        for p in paths:
            im = cv2.imread(p)
            if im is None:
                raise SystemExit(f'cannot read {p}')
            tiles.append(np.pad(im[32:96, 32:96], ((2, 2), (2, 2), (0, 0)), constant_values=255))
        rows.append(np.hstack(tiles))
    grid = cv2.resize(np.vstack(rows), None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(out, grid, [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == '__main__':
    main()
