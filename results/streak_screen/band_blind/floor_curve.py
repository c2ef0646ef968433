"""How the floor of texture_floor.py trades rain for texture (a measurement script).

    floor_curve.py RUN NAME FOLDER CLEAN NLCL_DIR Q [Q ...]   # writes RUN/nbase_tline11_q<Q>/NAME/

For each quantile Q (percent, e.g. 90), the floor f(h) is set at that percentile of the clean
folder's residual per bin of h, and ``nbase_tline11`` (O + G_3 * (B_n - O) - max(0, r_l - f(h)))
is written as mode ``nbase_tline11_q<Q>``; texture_floor.py's own mode is Q = 99.
"""
import os.path as osp, sys
import numpy as np
import torch
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from band_blind import run_angles, write_mode
from texture_floor import fit_floors, images


def main():
    run, name, folder, clean, nlcl_dir = sys.argv[1:6]
    quantiles = [float(q) for q in sys.argv[6:]]
    angles = run_angles(run)
    edges, fits = fit_floors(run, clean, angles, [q / 100 for q in quantiles])
    for base, x, p, ang, rl, h, nbase in images(run, name, folder, nlcl_dir, angles):
        b = np.searchsorted(edges, h)
        for q in quantiles:
            fl = torch.from_numpy(fits[q / 100][0][b]).float()
            write_mode(run, f'nbase_tline11_q{q:g}', name, base, nbase - (rl - fl).clamp(min=0))
    for q in quantiles:
        print(f'q {q:g}: floor per bin {np.round(fits[q / 100][0], 3).tolist()}')


if __name__ == '__main__':
    main()
