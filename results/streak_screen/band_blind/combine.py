"""Background estimates from a rainy folder and its band-blind prediction (band_blind.py).

    combine.py RUN NAME FOLDER MODES    # reads RUN/pred/NAME/, writes RUN/<mode>/NAME/

With ``r = max(O - P, 0)`` (what O holds above the prediction), the modes are
``min`` (B = min(O, P) = O - r), ``lineL`` (O - r opened with a
line of L pixels along the image's rain direction, per channel) and ``glinL`` (O - min(r,
the grey r opened so)); ``cmin`` and ``clineL`` take only the light the three channels
share (``min`` over the channels of r, laid on all three): O - r_grey, and O - r_grey opened
with a line of L pixels.
"""
import os.path as osp, sys
import torch
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import load, angle_of, run_angles, read_prediction, write_mode
from nlcl_plugin.models.streak_light import line_opening

run, name, folder = sys.argv[1], sys.argv[2], sys.argv[3]
modes = sys.argv[4].split(',')
fs, xs = load(folder)
angles = run_angles(run)
for f, x in zip(fs, xs):
    base = osp.splitext(osp.basename(f))[0] + '.png'
    x = x[None]; p = read_prediction(run, name, f)[None]
    ang = angle_of(x[0], angles)
    r = (x - p).clamp(min=0)
    rg = r.amin(1, keepdim=True).expand_as(r)  # the light the three channels share
    outs = {}
    for m in modes:
        if m == 'min':
            outs[m] = x - r
        elif m == 'cmin':
            outs[m] = x - rg
        elif m.startswith('cline'):
            outs[m] = x - line_opening(rg, int(m[5:]), ang)
        elif m.startswith('line'):
            L = int(m[4:])
            rl = line_opening(r, L, ang)
            outs[m] = x - rl
        elif m.startswith('glin'):  # grey residual opened, applied to all channels
            L = int(m[4:])
            g = line_opening(r.mean(1, keepdim=True), L, ang)
            outs[m] = x - torch.minimum(r, g.expand_as(r))
    for m, y in outs.items():
        write_mode(run, m, name, base, y[0])
