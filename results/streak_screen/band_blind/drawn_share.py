"""How much of the rain a band-blind prediction draws, per rain kind (a measurement script).

    drawn_share.py SPLIT RUN [RUN ...]   # SPLIT: train (pred/train_rainy/) or test (pred/input/)

With R = O - B (B the rain-free twin) and P a run's prediction, the share of the rain P
reproduces is <P - B, R> / <R, R> over a kind's pixels and channels: 1 where P draws the rain
as it is, 0 where it draws none. Printed whole and in the detail band (sigma 3), for
the training cells or the test split of data/nlcl_demo_same_places (or $NLCL_DATA).
"""
import os, os.path as osp, sys
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import load, read_prediction
from nlcl_plugin.evaluation.per_kind import kinds_of_folder
from nlcl_plugin.models.detail_layer import DetailLayer


def main():
    root = os.environ.get('NLCL_DATA', 'data/nlcl_demo_same_places')
    split = sys.argv[1]
    folder, target, name = {'train': ('train_rainy', 'train_target', 'train_rainy'),
                            'test': ('test/input', 'test/target', 'input')}[split]
    kind = kinds_of_folder(osp.join(root, folder))
    fs, xs = load(osp.join(root, folder))
    ts = load(osp.join(root, target))[1]
    detail = DetailLayer(3.0)
    for run in sys.argv[2:]:
        sums = {}
        for f, x, t in zip(fs, xs, ts):
            p = read_prediction(run, name, f)
            r, d = x - t, p - t
            rd, dd = detail(r[None])[0], detail(d[None])[0]
            s = sums.setdefault(kind[osp.basename(f)], [0.0, 0.0, 0.0, 0.0])
            s[0] += float((d * r).sum()); s[1] += float((r * r).sum())
            s[2] += float((dd * rd).sum()); s[3] += float((rd * rd).sum())
        print(osp.basename(run.rstrip('/')) + ': ' + '; '.join(
            f'{k} {s[0] / s[1]:.3f} (detail {s[2] / s[3]:.3f})' for k, s in sorted(sums.items())))


if __name__ == '__main__':
    main()
