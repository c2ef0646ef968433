"""The band-blind streak residual above what the prediction misses on rain-free images of
like texture, and a trained NLCL model's haze and tone (a measurement script).

    texture_floor.py RUN NAME FOLDER CLEAN NLCL_DIR   # writes RUN/<mode>/NAME/, RUN/floor.json

``RUN`` is a band_blind.py run with its predictions of ``FOLDER`` in RUN/pred/NAME/ and of
the unpaired clean folder ``CLEAN`` in RUN/pred/<basename of CLEAN>/; ``NLCL_DIR`` holds a
trained model's outputs for ``FOLDER`` under the same names (``tools/derain.py``).

``r_l`` is the light ``combine.py``'s ``line11`` takes (``max(O - P, 0)`` opened with a line
of 11 pixels along the image's rain direction). Where the prediction P has texture around a
pixel it misses some of it, rain or not. On the clean folder (no rain), ``r_l``'s channel mean
is binned by the texture of P around each pixel, ``h`` (:func:`texture`), into 16 bins of
equal counts, and the floor ``f(h)`` is its 99th percentile per bin; ``f_s(h)`` is the same
for ``s_l``, the light the three channels share (the least of ``max(O - P, 0)`` over the
channels) opened so. The modes:

- ``tline11``: O - max(0, r_l - f(h)) (the floor taken off each channel);
- ``htline11``: O - r_l where r_l's channel mean is above f(h), else O;
- ``nbase``: O + G_3 * (B_n - O), the model's change in the base band only (Gaussian,
  sigma 3: haze and tone, no texture);
- ``nbase_line11``: ``nbase`` - r_l; ``nbase_tline11``: ``nbase`` - max(0, r_l - f(h));
- ``ctline11``: O - max(0, s_l - f_s(h)) on each channel; ``nbase_ctline11``: ``nbase`` minus
  the same.

(3,H,W) in [0, 1] throughout.
"""
import json, os.path as osp, sys
import numpy as np
import torch, torch.nn.functional as F
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import load, load_like, angle_of, line_residual, run_angles, read_prediction, write_mode
from nlcl_plugin.models.detail_layer import DetailLayer
from nlcl_plugin.models.streak_light import line_opening

BINS, QUANTILE, WINDOW, SIGMA = 16, 0.99, 7, 3.0


def texture(p):
    """The texture of prediction p (3,H,W) around each pixel: the grey image's absolute
    differences to its right and lower neighbours, summed, averaged over 7x7. -> (H,W)."""
    g = p.mean(0)
    d = torch.zeros_like(g)
    d[:, :-1] += (g[:, 1:] - g[:, :-1]).abs()
    d[:-1, :] += (g[1:, :] - g[:-1, :]).abs()
    pad = WINDOW // 2
    return F.avg_pool2d(F.pad(d[None, None], (pad,) * 4, mode='replicate'), WINDOW, 1)[0, 0]


def shared_residual(x, p, angle):
    """s_l: the least of max(O - P, 0) over the channels, opened with an 11-pixel line along
    ``angle``. (1,H,W)."""
    return line_opening((x - p).clamp(min=0).amin(0, keepdim=True)[None], 11, angle)[0]


def fit_floors(run, clean, angles, quantiles=(QUANTILE,)):
    """Bin edges of h, and per quantile q of ``quantiles`` the floor per bin (q of the values
    in it) of r_l's channel mean and of s_l, from the clean folder's images:
    ``edges, {q: (floor, floor_s)}``."""
    fs, xs = load(clean)
    name = osp.basename(clean.rstrip('/'))
    hs, rs, ss = [], [], []
    for f, x in zip(fs, xs):
        p = read_prediction(run, name, f)
        ang = angle_of(x, angles)
        hs.append(texture(p).flatten())
        rs.append(line_residual(x, p, ang).mean(0).flatten())
        ss.append(shared_residual(x, p, ang).flatten())
    h = torch.cat(hs).numpy()
    edges = np.quantile(h, np.linspace(0, 1, BINS + 1)[1:-1])
    idx = np.searchsorted(edges, h)
    r, s = torch.cat(rs).numpy(), torch.cat(ss).numpy()
    per_bin = lambda v, q: np.array([float(np.quantile(v[idx == b], q)) for b in range(BINS)])
    return edges, {q: (per_bin(r, q), per_bin(s, q)) for q in quantiles}


def images(run, name, folder, nlcl_dir, angles):
    """Per image of ``folder``: its file name (.png), O, P, its rain direction, r_l, h and
    ``nbase`` (O + G_3 * (B_n - O), with B_n from ``nlcl_dir``)."""
    fs, xs = load(folder)
    bns = load_like(nlcl_dir, fs)
    base_layer = DetailLayer(SIGMA).base
    for f, x, bn in zip(fs, xs, bns):
        p = read_prediction(run, name, f)
        ang = angle_of(x, angles)
        yield (osp.splitext(osp.basename(f))[0] + '.png', x, p, ang, line_residual(x, p, ang),
               texture(p).numpy(), x + base_layer((bn - x)[None])[0])


def main():
    run, name, folder, clean, nlcl_dir = sys.argv[1:6]
    angles = run_angles(run)
    edges, fits = fit_floors(run, clean, angles)
    floor, floor_s = fits[QUANTILE]
    with open(osp.join(run, 'floor.json'), 'w') as fh:
        json.dump({'edges': edges.tolist(), 'floor': floor.tolist(), 'quantile': QUANTILE,
                   'clean': clean, 'floor_shared': floor_s.tolist()}, fh, indent=1)
    for base, x, p, ang, rl, h, nbase in images(run, name, folder, nlcl_dir, angles):
        b = np.searchsorted(edges, h)
        fl = torch.from_numpy(floor[b]).float()
        soft = (rl - fl).clamp(min=0)
        hard = rl * (rl.mean(0) > fl).float()
        fl_s = torch.from_numpy(floor_s[b]).float()
        soft_s = (shared_residual(x, p, ang) - fl_s).clamp(min=0).expand_as(x)
        outs = {'tline11': x - soft, 'htline11': x - hard, 'nbase': nbase,
                'nbase_line11': nbase - rl, 'nbase_tline11': nbase - soft,
                'ctline11': x - soft_s, 'nbase_ctline11': nbase - soft_s}
        for m, y in outs.items():
            write_mode(run, m, name, base, y)
    print('floor per bin', np.round(floor, 4).tolist())


if __name__ == '__main__':
    main()
