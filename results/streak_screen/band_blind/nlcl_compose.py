"""A trained NLCL model's output with the band-blind streak residual added, under a gate per
image on how much the rain direction stands out (a measurement script).

    nlcl_compose.py RUN NAME FOLDER NLCL_DIR CLEAN   # writes RUN/<mode>/NAME/, RUN/gate_NAME.json

``RUN`` is a band_blind.py run whose predictions of ``FOLDER`` are in RUN/pred/NAME/;
``NLCL_DIR`` holds a trained model's outputs for ``FOLDER`` under the same file names
(``tools/derain.py``); ``CLEAN`` is the unpaired clean folder the gate's threshold comes from.

With ``r_l`` the light ``combine.py``'s ``line11`` takes (``r = max(O - P, 0)`` opened with a
line of 11 pixels along the image's rain direction), ``B_n`` the model's output and
``d = O - B_n``, the modes are ``nlcl`` (B_n), ``line11g`` (O - g r_l), ``nline11``
(B_n - max(0, r_l - max(d, 0)): the streak light beyond what the model took) and ``nline11g``
(the same times g). The gate g is 1 where the image's direction strength
(:func:`direction_strength`) is above the largest of the clean folder's, else 0.
"""
import json, os.path as osp, sys
import torch
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import load, load_like, angle_of, line_residual, run_angles, read_prediction, write_mode
from nlcl_plugin.models.streak_light import STREAK_ANGLES, line_opening
from nlcl_plugin.models.thin_light import white_top_hat


def direction_strength(x, angle):
    """How much the direction ``angle`` stands out in image x (3,H,W): the grey thin light
    (white top-hat 7, channel mean) surviving a 21-pixel line opening along ``angle``, over
    the median of the same over STREAK_ANGLES."""
    thin = white_top_hat(x[None], 7).mean(1, keepdim=True)
    energy = torch.stack([line_opening(thin, 21, a).sum() for a in STREAK_ANGLES])
    return float(line_opening(thin, 21, angle).sum() / energy.median().clamp_min(1e-8))


def threshold(clean, angles):
    """The largest direction strength over the clean folder's images, each at its own
    found direction."""
    _, xs = load(clean)
    return max(direction_strength(x, angle_of(x, angles)) for x in xs)


def main():
    run, name, folder, nlcl_dir, clean = sys.argv[1:6]
    angles = run_angles(run)
    t = threshold(clean, angles)
    fs, xs = load(folder)
    bns = load_like(nlcl_dir, fs)
    gates = {'threshold': t, 'images': {}}
    for f, x, bn in zip(fs, xs, bns):
        base = osp.splitext(osp.basename(f))[0] + '.png'
        p = read_prediction(run, name, f)
        ang = angle_of(x, angles)
        s = direction_strength(x, ang)
        g = 1.0 if s > t else 0.0
        gates['images'][base] = {'strength': s, 'gate': g, 'angle': ang}
        rl = line_residual(x, p, ang)
        beyond = (rl - (x - bn).clamp(min=0)).clamp(min=0)
        outs = {'nlcl': bn, 'line11g': x - g * rl, 'nline11': bn - beyond,
                'nline11g': bn - g * beyond}
        for m, y in outs.items():
            write_mode(run, m, name, base, y)
    with open(osp.join(run, f'gate_{name}.json'), 'w') as fh:
        json.dump(gates, fh, indent=1)
    on = sum(v['gate'] for v in gates['images'].values())
    print(f'threshold {t:.3f}; gate on for {on:.0f} of {len(xs)} images of {folder}')


if __name__ == '__main__':
    main()
