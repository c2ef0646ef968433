"""How much of the layer a removal takes runs along one direction: the isotropic share of
its structure tensor, for the true decomposition, for removals that also take texture,
and for models' outputs.

For a rainy training cell O and a background B, with R = O - B taken grey (channel mean)
and its detail layer at sigma 3 (``error_bands.grey_detail``), gx, gy central differences
and J = sum over the cell of [[gx gx, gx gy], [gx gy, gy gy]], the share is
s = lambda_min / (lambda_min + lambda_max), in [0, 0.5]: 0 for a layer of lines along one
direction, 0.5 for one without a direction. Streaks of one angle give s near 0; texture
taken with them raises it. ``block`` gives the same per 32 x 32 block, the blocks' J
weighted by their energy (each block its own direction).

Printed per rain kind, the mean of s over cells:

* along the true rain: a = 0.25, 1 (R = a (O - T));
* the true rain with the twin's texture's light side taken too, B = T - e relu(dT), and
  with light taken from its shadows, B = T - e relu(-dT), e = 0.1 and 0.25;
* each output folder given (at the rainy training cells).

    python removed_coherence.py DATA_ROOT [OUTPUT_DIR...]
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def tensor(d):
    gx = np.zeros_like(d)
    gy = np.zeros_like(d)
    gx[:, 1:-1] = (d[:, 2:] - d[:, :-2]) / 2
    gy[1:-1] = (d[2:] - d[:-2]) / 2
    return gx * gx, gx * gy, gy * gy


def share(xx, xy, yy):
    tr, det = xx + yy, xx * yy - xy * xy
    disc = np.sqrt(max(tr * tr / 4 - det, 0))
    lmin = tr / 2 - disc
    return lmin / max(tr, 1e-12)


def coherence(o, b, block=0):
    d = grey_detail(o - b, 0 * o)
    xx, xy, yy = tensor(d)
    if not block:
        return share(xx.sum(), xy.sum(), yy.sum())
    h, w = d.shape
    num = den = 0.0
    for i in range(0, h - block + 1, block):
        for j in range(0, w - block + 1, block):
            s = (slice(i, i + block), slice(j, j + block))
            e = xx[s].sum() + yy[s].sum()
            num += e * share(xx[s].sum(), xy[s].sum(), yy[s].sum())
            den += e
    return num / max(den, 1e-12)


def main():
    root, outputs = sys.argv[1], sys.argv[2:]
    rainy = [e for e in json.load(open(osp.join(root, 'manifest.json')))['images']
             if e['split'] == 'train_rainy']
    read = lambda p: cv2.imread(p).astype(np.float64) / 255  # noqa: E731
    kinds = sorted({e['rain_kind'] for e in rainy})
    steps, light = (0.25, 1.0), (0.1, 0.25)
    columns = [f'true rain a={a}' for a in steps]
    columns += [f'a=1, texture light side e={e}' for e in light]
    columns += [f'a=1, light from shadows e={e}' for e in light]
    columns += list(outputs)
    for block in (0, 32):
        rows = {k: [] for k in kinds}
        for e in rainy:
            o, t = read(osp.join(root, e['file'])), read(osp.join(root, e['target']))
            dt = grey_detail(t, 0 * t)[..., None]
            bs = [o - a * (o - t) for a in steps]
            bs += [t - s * np.maximum(dt, 0) for s in light]
            bs += [t - s * np.maximum(-dt, 0) for s in light]
            bs += [read(osp.join(out, osp.basename(e['file']))) for out in outputs]
            rows[e['rain_kind']].append([coherence(o, b, block) for b in bs])
        print(f'mean over cells of the isotropic share s of R = O - B'
              f' ({"whole cell" if not block else f"per {block} x {block} block"}),'
              ' grey detail at sigma 3')
        print('| B | ' + ' | '.join(kinds) + ' |')
        print('| --- |' + ' ---: |' * len(kinds))
        for i, name in enumerate(columns):
            cells = ' | '.join(f'{np.mean([r[i] for r in rows[k]]):.3f}' for k in kinds)
            print(f'| {name} | {cells} |')
        print()


if __name__ == '__main__':
    main()
