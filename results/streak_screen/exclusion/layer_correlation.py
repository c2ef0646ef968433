"""How far the layer a removal takes is correlated with what it leaves, on the grey detail
layer: for the true decomposition (the rain O - T against the twin T), along the path
B = O - a (O - T), for a removal that also takes the twin's texture's light side, and for
models' outputs.

For a rainy training cell O and a background B, with R = O - B, the correlation is
c = <dR, dB> / (|dR| |dB|), d the grey detail layer at sigma 3
(``error_bands.grey_detail(x, 0)``). A removal that takes part of a streak and leaves the
rest at the same pixels, or takes light from bright texture that stays bright, gives
c > 0; the rain taken whole from a texture it does not follow gives c near 0.

Printed per rain kind, the mean of c over cells:

* along the true rain: a = 0.1, 0.25, 0.5, 0.75, 1 (a = 1: R = O - T, B = T);
* the true rain with the light side of the twin's texture taken too:
  B = T - e relu(dT), e = 0.1 and 0.25;
* each output folder given (at the rainy training cells).

    python layer_correlation.py DATA_ROOT [OUTPUT_DIR...]
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def correlation(o, b):
    dr, db = grey_detail(o - b, 0 * o), grey_detail(b, 0 * b)
    return (dr * db).sum() / max(np.sqrt((dr ** 2).sum() * (db ** 2).sum()), 1e-12)


def main():
    root, outputs = sys.argv[1], sys.argv[2:]
    rainy = [e for e in json.load(open(osp.join(root, 'manifest.json')))['images']
             if e['split'] == 'train_rainy']
    read = lambda p: cv2.imread(p).astype(np.float64) / 255  # noqa: E731
    kinds = sorted({e['rain_kind'] for e in rainy})
    steps, light = (0.1, 0.25, 0.5, 0.75, 1.0), (0.1, 0.25)
    columns = [f'true rain a={a}' for a in steps] + [f'a=1, texture light e={e}' for e in light]
    columns += list(outputs)
    rows = {k: [] for k in kinds}
    for e in rainy:
        o, t = read(osp.join(root, e['file'])), read(osp.join(root, e['target']))
        v = [correlation(o, o - a * (o - t)) for a in steps]
        dt = grey_detail(t, 0 * t)[..., None]
        v += [correlation(o, t - s * np.maximum(dt, 0)) for s in light]
        v += [correlation(o, read(osp.join(out, osp.basename(e['file'])))) for out in outputs]
        rows[e['rain_kind']].append(v)
    print('mean over cells of c = <dR, dB> / (|dR| |dB|), R = O - B, grey detail at sigma 3')
    print('| B | ' + ' | '.join(kinds) + ' |')
    print('| --- |' + ' ---: |' * len(kinds))
    for i, name in enumerate(columns):
        cells = ' | '.join(f'{np.mean([r[i] for r in rows[k]]):+.3f}' for k in kinds)
        print(f'| {name} | {cells} |')


if __name__ == '__main__':
    main()
