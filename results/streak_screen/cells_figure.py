"""A figure of paired images, enlarged: rainy | rain-free twin | each run's output.

    python figure.py DATA_ROOT OUT.jpg OUTPUT_DIR [OUTPUT_DIR ...] --cells A.png B.png ...
        [--pair train_rainy train_target] [--window TOP LEFT SIZE] [--zoom 3]

Each OUTPUT_DIR holds tools/derain.py's outputs of DATA_ROOT/<rainy folder> (same names);
``--pair test/input test/target`` for the test split.
"""
import argparse
import os.path as osp

import cv2
import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument('root')
    p.add_argument('out')
    p.add_argument('outputs', nargs='+')
    p.add_argument('--cells', nargs='+', required=True)
    p.add_argument('--pair', nargs=2, default=('train_rainy', 'train_target'))
    p.add_argument('--window', nargs=3, type=int, default=(16, 16, 96))
    p.add_argument('--zoom', type=int, default=3)
    a = p.parse_args()
    top, left, size = a.window
    rows = []
    for name in a.cells:
        paths = [osp.join(a.root, a.pair[0], name), osp.join(a.root, a.pair[1], name)]
        paths += [osp.join(d, name) for d in a.outputs]
        tiles = []
        for path in paths:
            im = cv2.imread(path)
            if im is None:
                raise SystemExit(f'cannot read {path}')
            tiles.append(np.pad(im[top:top + size, left:left + size], ((2, 2), (2, 2), (0, 0)),
                                constant_values=255))
        rows.append(np.hstack(tiles))
    grid = cv2.resize(np.vstack(rows), None, fx=a.zoom, fy=a.zoom, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(a.out, grid, [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == '__main__':
    main()
