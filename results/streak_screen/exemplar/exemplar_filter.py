"""How well the clean cells of a photograph rebuild its rainy cells' background: a fixed
filter that replaces each patch of a rainy training cell by its nearest patch among the
clean cells of the same photograph, scored against the rain-free twin.

Patches are p x p (RGB, [0, 1]) at stride p / 2, matched by L2 distance to every patch of
the photograph's clean cells (stride 1), and put back by averaging the overlaps. Queries:

* ``twin``: the twin's own patches (how far the clean cells hold the texture at all: the
  bound of any such prior);
* ``rainy``: the rainy cell's patches (the filter as it could run without paired data);
* ``detail layer``: only the detail layer at sigma 3 matched and rebuilt (clean cells'
  detail layers as the pool), the rainy cell's base band kept, so that haze and tone do not
  steer the match; queried with the rainy cell's and with the twin's detail layer.

Per rain kind, mean over cells: PSNR and SSIM (Y) against the twin, the share of the
streak layer taken away and of the detail-band error removed (``band_removal``).

    python exemplar_filter.py DATA_ROOT [PATCH]
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import torch

from nlcl_plugin.evaluation.error_bands import as_image, band_removal
from nlcl_plugin.evaluation.metrics import y_metrics


def patches(x, p, stride):
    t = torch.from_numpy(x).permute(2, 0, 1)[None].float()
    u = torch.nn.functional.unfold(t, p, stride=stride)  # (1, 3 p p, L)
    return u[0].T.contiguous()


def fold(u, shape, p, stride):
    h, w = shape[:2]
    t = u.T[None]
    num = torch.nn.functional.fold(t, (h, w), p, stride=stride)
    den = torch.nn.functional.fold(torch.ones_like(t), (h, w), p, stride=stride)
    return (num / den)[0].permute(1, 2, 0).double().numpy()


def rebuild(query, pool, p):
    """Each p x p patch of ``query`` (stride p / 2) replaced by its L2-nearest row of
    ``pool`` (N, 3 p p), the overlaps averaged. Shapes: query (H, W, 3) -> (H, W, 3)."""
    q = patches(query, p, p // 2)
    best = torch.cat([torch.cdist(q[i:i + 256], pool).argmin(1) for i in range(0, len(q), 256)])
    return fold(pool[best], query.shape, p, p // 2)


def detail(x, sigma=3.0):
    """x - GaussianBlur_sigma(x), as ``error_bands.bands`` splits. Shapes: (H, W, 3)."""
    return x - cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def scores(o, b, t):
    """PSNR / SSIM (Y) of b against t and :func:`band_removal`'s shares, images in [0, 1]."""
    u8 = lambda x: as_image(255 * x)  # noqa: E731
    psnr, ssim = y_metrics(u8(b), u8(t))
    r = band_removal(u8(o), u8(b), u8(t))
    return psnr, ssim, r['detail_projection'], r['detail_removed']


def main():
    root = sys.argv[1]
    p = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.set_num_threads(1)
    images = json.load(open(osp.join(root, 'manifest.json')))['images']
    read = lambda f: cv2.imread(osp.join(root, f))[..., ::-1].astype(np.float32) / 255  # noqa
    pools, dpools = {}, {}
    for e in images:
        if e['split'] == 'train_clean':
            c = read(e['file'])
            pools.setdefault(e['source'], []).append(patches(c, p, 1))
            dpools.setdefault(e['source'], []).append(patches(detail(c), p, 1))
    pools = {k: torch.cat(v) for k, v in pools.items()}
    dpools = {k: torch.cat(v) for k, v in dpools.items()}
    rainy = [e for e in images if e['split'] == 'train_rainy']
    kinds = sorted({e['rain_kind'] for e in rainy})
    names = ['input', 'twin', 'rainy', 'rainy, detail layer', 'twin, detail layer']
    rows = {k: [] for k in kinds}
    for e in rainy:
        o, t = read(e['file']), read(e['target'])
        pool, dpool = pools[e['source']], dpools[e['source']]
        bs = [o, rebuild(t, pool, p), rebuild(o, pool, p),
              o - detail(o) + rebuild(detail(o), dpool, p),
              o - detail(o) + rebuild(detail(t), dpool, p)]
        rows[e['rain_kind']].append([scores(o, b, t) for b in bs])
    print(f'patch {p}, stride {p // 2}; per kind, mean over cells: PSNR (Y, dB) / SSIM (Y) /'
          ' streak layer taken / detail-band error removed (sigma 3)')
    print('| query | ' + ' | '.join(kinds) + ' |')
    print('| --- |' + ' ---: |' * len(kinds))
    for i, name in enumerate(names):
        cells = []
        for k in kinds:
            v = np.array([r[i] for r in rows[k]])
            cells.append(f'{v[:, 0].mean():.2f} / {v[:, 1].mean():.3f} /'
                         f' {100 * v[:, 2].mean():.1f} % / {100 * v[:, 3].mean():.1f} %')
        print(f'| {name} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
