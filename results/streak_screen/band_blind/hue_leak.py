"""How much the rendered rain changes the chroma direction (band_blind.hue) of the pixels it
covers, per rain kind (a measurement script, on the rainy cells and their rain-free twins).

    hue_leak.py [DATA_ROOT]   # default data/nlcl_demo_same_places

Over the pixels where the rain adds more than 0.05 to the channel mean and the twin is
coloured (|c| > 0.03, c = the twin minus its channel mean): the median cosine between the
chroma directions of O and of the twin, the share below 0.9, the median ratio of O's chroma
length to the twin's, and the share where O has none left (grey: clipped to white).
"""
import os.path as osp, sys
import numpy as np
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import load, hue
from nlcl_plugin.evaluation.per_kind import kinds_of_folder


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'data/nlcl_demo_same_places'
    kind = kinds_of_folder(osp.join(root, 'train_rainy'))
    fs, xs = load(osp.join(root, 'train_rainy'))
    ts = load(osp.join(root, 'train_target'))[1]
    acc = {}
    for f, x, t in zip(fs, xs, ts):
        rain = (x - t).mean(0)
        hx, ht = hue(x[None])[0], hue(t[None])[0]
        cx, ct = (x - x.mean(0)).norm(dim=0), (t - t.mean(0)).norm(dim=0)
        sel = (rain > 0.05) & (ct > 0.03)
        a = acc.setdefault(kind[osp.basename(f)], ([], [], []))
        a[0].append((hx * ht).sum(0)[sel].numpy())
        a[1].append((cx[sel] / ct[sel]).numpy())
        a[2].append((hx.norm(dim=0)[sel] == 0).numpy())
    for k, a in sorted(acc.items()):
        cos, ratio, lost = (np.concatenate(v) for v in a)
        print(f'{k}: {len(cos)} pixels; cosine median {np.median(cos):.3f}, below 0.9 '
              f'{np.mean(cos < 0.9):.3f}; chroma length ratio median {np.median(ratio):.2f}; '
              f'no chroma left {np.mean(lost):.3f}')


if __name__ == '__main__':
    main()
