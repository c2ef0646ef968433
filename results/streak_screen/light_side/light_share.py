"""The light side of the grey detail layer: how much of a cell's detail energy is brighter
than its surroundings, in clean cells, rainy cells, their rain-free twins and models'
outputs; and what a floor on it would allow a removal to take.

For an image x (RGB in [0, 1]) with grey detail layer d = ``error_bands.grey_detail(x, 0)``
(channel mean less its Gaussian blur, sigma 3), its light share is
s(x) = sum relu(d)^2 / sum d^2 (0.5: as much light as shade; rain adds light).

Printed:

1. s per split and kind (mean, spread, min, max): the clean cells, the twins, the rainy
   cells, and each output folder given (at the rainy training cells).
2. Per source photograph, the clean cells' mean s against its twins'.
3. The bound of a floor s(B) >= r on a removal along the true rain: per rainy cell the
   largest a in [0, 1] with s(O - a (O - T)) >= r (a = 1 where the twin itself is above r;
   a = 0 where O is below r already), for r the clean cells' mean over all cells and per
   source photograph; the share of the streak layer that removal takes is a (the
   projection on detail(O - T) of a (O - T)); printed per kind as the mean of a.

    python light_share.py DATA_ROOT [OUTPUT_DIR...]
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def light_share(x):
    d = grey_detail(x, 0 * x)
    return (np.maximum(d, 0) ** 2).sum() / max((d ** 2).sum(), 1e-12)


def largest_step(o, t, r, steps=200):
    """The largest a in [0, 1] on a grid of ``steps`` with light_share(o - a (o - t)) >= r,
    scanning down from 1 (the first a that meets the floor)."""
    for a in np.linspace(1, 0, steps + 1):
        if light_share(o - a * (o - t)) >= r:
            return a
    return 0.0


def summary(v):
    v = np.array(v)
    return f'{v.mean():.3f} ± {v.std():.3f} [{v.min():.3f}, {v.max():.3f}] ({len(v)})'


def main():
    root, outputs = sys.argv[1], sys.argv[2:]
    images = json.load(open(osp.join(root, 'manifest.json')))['images']
    read = lambda p: cv2.imread(p).astype(np.float64) / 255  # noqa: E731
    clean = [e for e in images if e['split'] == 'train_clean']
    rainy = [e for e in images if e['split'] == 'train_rainy']
    s_clean = {e['file']: light_share(read(osp.join(root, e['file']))) for e in clean}
    by_photo = {}
    for e in clean:
        by_photo.setdefault(e['source'], []).append(s_clean[e['file']])
    r_all = float(np.mean(list(s_clean.values())))
    print('1. light share s = sum relu(d)^2 / sum d^2 of the grey detail layer (sigma 3)')
    print('| cells | kind | s: mean ± spread [min, max] (cells) |')
    print('| --- | --- | --- |')
    print(f'| clean | - | {summary(list(s_clean.values()))} |')
    kinds = sorted({e['rain_kind'] for e in rainy})
    s_twin, s_rain = {}, {}
    for e in rainy:
        s_twin[e['file']] = light_share(read(osp.join(root, e['target'])))
        s_rain[e['file']] = light_share(read(osp.join(root, e['file'])))
    for name, table in (('twins', s_twin), ('rainy', s_rain)):
        for k in kinds:
            print(f'| {name} | {k} | {summary([table[e["file"]] for e in rainy if e["rain_kind"] == k])} |')
    for out in outputs:
        for k in kinds:
            v = [light_share(read(osp.join(out, osp.basename(e['file']))))
                 for e in rainy if e['rain_kind'] == k]
            print(f'| {out} | {k} | {summary(v)} |')
    print()
    print('2. per source photograph: clean cells against twins')
    print('| photograph | clean s | twins s |')
    print('| --- | --- | --- |')
    for p, v in sorted(by_photo.items()):
        tw = [s_twin[e['file']] for e in rainy if e['source'] == p]
        print(f'| {p} | {summary(v)} | {summary(tw)} |')
    print()
    print(f'3. bound of the floor s(B) >= r along the true rain (r: clean mean {r_all:.3f}, '
          'or the photograph\'s clean mean)')
    print('| kind | cells | taken, r over all clean cells | taken, r per photograph |')
    print('| --- | ---: | ---: | ---: |')
    for k in kinds:
        a_all, a_photo = [], []
        for e in rainy:
            if e['rain_kind'] != k:
                continue
            o, t = read(osp.join(root, e['file'])), read(osp.join(root, e['target']))
            a_all.append(largest_step(o, t, r_all))
            a_photo.append(largest_step(o, t, float(np.mean(by_photo[e['source']]))))
        print(f'| {k} | {len(a_all)} | {100 * np.mean(a_all):.1f} % | {100 * np.mean(a_photo):.1f} % |')


if __name__ == '__main__':
    main()
