"""What a model takes from the training cells beside the rain, per rain kind.

For each rainy training cell O with its rain-free twin T and a model's output B, on the grey
detail layer (channel mean of the detail band at sigma 3, ``error_bands.grey_detail``):

* rain  r = detail(O - T), removed d = detail(O - B), texture t = detail(T);
* taken: <d, r> / <r, r>, the share of the rain's detail taken along it;
* beside: d - taken * r, what B lost that is not along the rain; its RMS over the
  texture's RMS;
* on texture: <beside, t> / <t, t>, the share of the twin's own texture that B lost
  (1: the texture flattened away, 0: none of it);
* bright: the share of the beside layer's energy where t > 0 (the texture's light side);
* on the rain: the share of the beside layer's energy within the rain's footprint (|r| >
  0.02, dilated by 2 pixels), and the share of the cell's pixels that footprint covers;
* over: the share of the beside layer's energy on that footprint where B is darker than
  T (more light removed there than the rain added).

Printed as the mean over cells per kind, for each output folder.

    python taken_beside_rain.py DATA_ROOT OUTPUT_DIR...
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def cell_figures(o, t, b):
    """(taken, beside RMS / texture RMS, texture lost, bright, on the rain, footprint, over)."""
    r, d, tex = grey_detail(o, t), grey_detail(o, b), grey_detail(t, 0 * t)
    taken = (d * r).sum() / max((r * r).sum(), 1e-12)
    beside = d - taken * r
    energy = max((beside ** 2).sum(), 1e-12)
    foot = cv2.dilate((np.abs(r) > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    over = foot & ((b - t).mean(2) < 0)
    return (taken, np.sqrt((beside ** 2).mean() / max((tex ** 2).mean(), 1e-12)),
            (beside * tex).sum() / max((tex * tex).sum(), 1e-12),
            (beside[tex > 0] ** 2).sum() / energy, (beside[foot] ** 2).sum() / energy,
            foot.mean(), (beside[over] ** 2).sum() / energy)


def main():
    root, outputs = sys.argv[1], sys.argv[2:]
    entries = [e for e in json.load(open(osp.join(root, 'manifest.json')))['images']
               if e['split'] == 'train_rainy']
    read = lambda p: cv2.imread(p).astype(np.float32) / 255  # noqa: E731
    print('| outputs | kind | cells | rain taken | beside RMS / texture RMS '
          '| texture lost | beside on the light side | beside on the rain | rain footprint '
          '| beside on the rain, B darker than T |')
    print('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for out in outputs:
        rows = {}
        for e in entries:
            o, t = read(osp.join(root, e['file'])), read(osp.join(root, e['target']))
            b = read(osp.join(out, osp.basename(e['file'])))
            rows.setdefault(e['rain_kind'], []).append(cell_figures(o, t, b))
        for kind, v in sorted(rows.items()):
            m = np.array(v).mean(0)
            print(f'| {out} | {kind} | {len(v)} | {100 * m[0]:.1f} % | {m[1]:.3f} '
                  f'| {100 * m[2]:.1f} % | {100 * m[3]:.1f} % | {100 * m[4]:.1f} % '
                  f'| {100 * m[5]:.1f} % | {100 * m[6]:.1f} % |')


if __name__ == '__main__':
    main()
