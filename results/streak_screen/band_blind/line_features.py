"""What tells the light ``line11`` takes from the rain from the light it takes from the texture
(a measurement script).

    line_features.py RUN [RUN ...]   # RUN: a band_blind.py run with pred/train_rainy/

On the training cells of data/nlcl_demo_same_places (or $NLCL_DATA), r_l is the channel mean
of the light ``line11`` takes, max(O - P, 0) opened with 11 pixels along the rain. A pixel with
r_l > 0.01 is rain where the twin's rain, max(O - B, 0) opened the same way, holds at least
half of r_l (channel means), texture where it holds under a tenth. For each feature, seen
without the twin, the area under the ROC curve of rain against texture (1: every rain pixel
above every texture pixel; 0.5: no separation), pooled and per rain kind.

With ``--combined``, also the features together, at best: trained with the twins' labels,
one photograph of the cells left out at a time (the part of the name before its last two
``_``-fields), a logistic regression on the standardised features and a gradient-boosted
tree classifier score the held-out pixels; their AUC over all folds, pooled and per kind.
"""
import os.path as osp, sys
import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import angle_of, line_residual, load_pairs, read_prediction, run_angles
from texture_floor import texture

FEATURES = ('r_l', 'colour', 'P brightness', 'P texture', 'length', 'O brightness')


def auc(pos, neg):
    """Area under the ROC curve of scores ``pos`` against ``neg`` (ties count a half)."""
    return roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])


def features(x, p, angle):
    """The FEATURES of every pixel, (len(FEATURES), H*W), and r_l, (H*W,)."""
    rl = line_residual(x, p, angle)
    mean = rl.mean(0)
    colour = (rl.amax(0) - rl.amin(0)) / mean.clamp(min=1e-6)
    length = line_residual(x, p, angle, 21).mean(0) / mean.clamp(min=1e-6)
    f = torch.stack([mean, colour, p.mean(0), texture(p), length, x.mean(0)])
    return f.flatten(1).numpy(), mean.flatten().numpy()


def photograph(name):
    """The photograph a training cell was cut from: 'rain_china_20_1.png' -> 'rain_china'."""
    return name.rsplit('_', 2)[0]


def combined(rows):
    """AUC of each classifier over the held-out pixels of every leave-one-photograph-out fold,
    pooled and per kind. ``rows``: (photograph, kind, features (F,N), labels (N,)) per cell."""
    models = {
        'logistic': lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        'trees': lambda: HistGradientBoostingClassifier(random_state=0)}
    out = {}
    for name, make in models.items():
        scores, labels, kinds = [], [], []
        for held in sorted({r[0] for r in rows}):
            fit = [r for r in rows if r[0] != held]
            X = np.concatenate([r[2].T for r in fit]); y = np.concatenate([r[3] for r in fit])
            model = make().fit(X, y)
            for r in rows:
                if r[0] == held and len(r[3]):
                    scores.append(model.predict_proba(r[2].T)[:, 1]); labels.append(r[3])
                    kinds += [r[1]] * len(r[3])
        s, y, kinds = np.concatenate(scores), np.concatenate(labels), np.array(kinds)
        out[name] = {k: auc(s[(y == 1) & m], s[(y == 0) & m])
                     for k, m in [('pooled', np.ones_like(y, bool))]
                     + [(k, kinds == k) for k in sorted(set(kinds))]}
    return out


def main():
    fs, xs, ts, kind = load_pairs()
    runs = [a for a in sys.argv[1:] if a != '--combined']
    for run in runs:
        angles = run_angles(run)
        groups, rows = {}, []
        for f, x, t in zip(fs, xs, ts):
            ang = angle_of(x, angles)
            p = read_prediction(run, 'train_rainy', f)
            feat, rl = features(x, p, ang)
            rain = line_residual(x, t, ang).mean(0).flatten().numpy()
            on = rl > 0.01
            labels = np.where(on & (rain >= 0.5 * rl), 1, np.where(on & (rain < 0.1 * rl), 0, -1))
            for k in (kind[osp.basename(f)], 'pooled'):
                g = groups.setdefault(k, ([], []))
                g[0].append(feat[:, labels == 1]); g[1].append(feat[:, labels == 0])
            keep = labels >= 0
            rows.append((photograph(osp.basename(f)), kind[osp.basename(f)], feat[:, keep],
                         labels[keep]))
        name = osp.basename(run.rstrip('/'))
        for k, (pos, neg) in sorted(groups.items()):
            pos, neg = np.concatenate(pos, 1), np.concatenate(neg, 1)
            aucs = ', '.join(f'{n} {auc(pos[i], neg[i]):.3f}' for i, n in enumerate(FEATURES))
            print(f'{name} {k}: rain {pos.shape[1]} texture {neg.shape[1]} pixels; AUC {aucs}',
                  flush=True)
        if '--combined' in sys.argv:
            for model, res in combined(rows).items():
                print(f'{name} {model}, one photograph left out: AUC ' + ', '.join(
                    f'{k} {v:.3f}' for k, v in res.items()), flush=True)


if __name__ == '__main__':
    main()
