"""How much rain each kind puts on the same_places training cells: per kind, the mean over
cells of the input's PSNR against its rain-free twin, the RMS of the rain's grey detail
layer (O - twin, channel mean, minus its Gaussian blur at sigma 3), the RMS of the twin's own
grey detail layer (its texture), and the share of pixels where the rain's detail exceeds 0.05.

    python kind_stats.py DATA_ROOT
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def main():
    root = sys.argv[1]
    rows = {}
    for e in json.load(open(osp.join(root, 'manifest.json')))['images']:
        if e['split'] != 'train_rainy':
            continue
        o = cv2.imread(osp.join(root, e['file'])).astype(np.float32) / 255
        t = cv2.imread(osp.join(root, e['target'])).astype(np.float32) / 255
        rain = grey_detail(o, t)
        rows.setdefault(e['rain_kind'], []).append((
            10 * np.log10(1 / ((o - t) ** 2).mean()), np.sqrt((rain ** 2).mean()),
            np.sqrt((grey_detail(t, 0 * t) ** 2).mean()), (np.abs(rain) > 0.05).mean()))
    print('| kind | cells | input PSNR (dB) | rain detail RMS | texture detail RMS '
          '| pixels with rain detail > 0.05 |')
    print('| --- | ---: | ---: | ---: | ---: | ---: |')
    for kind, v in sorted(rows.items()):
        m = np.array(v).mean(0)
        print(f'| {kind} | {len(v)} | {m[0]:.2f} | {m[1]:.4f} | {m[2]:.4f} | {100 * m[3]:.2f} % |')


if __name__ == '__main__':
    main()
