"""How long the lines of the texture a band-blind prediction misses run, against the rain's
(a measurement script).

    line_length.py NET [NET ...]   # NET: a run's net.pth[:HALF], as in rain_response.py

On the training cells of data/nlcl_demo_same_places (or $NLCL_DATA), with B the rain-free twin
and P the prediction (run on B turned by the rainy image's own direction), for the texture P
misses, max(B - P(B), 0), and for the rain, max(O - B, 0): the share of what a line opening of
11 pixels along the rain keeps that an opening of L pixels also keeps, per rain kind and pooled
(sums over pixels and channels), L in LENGTHS.
"""
import os.path as osp, sys
import torch
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import angle_of, line_residual, load_pairs, net_of_spec, predict

LENGTHS = (21, 41, 61, 81, 101)


def kept(x, p, angle):
    """Sums of the light x holds above p, max(x - p, 0), opened with 11 pixels and with each
    of LENGTHS along ``angle``: (3,H,W) x 2 -> list."""
    return [float(line_residual(x, p, angle, n).sum()) for n in (11,) + LENGTHS]


def main():
    fs, xs, ts, kind = load_pairs()
    for spec in sys.argv[1:]:
        net, angles, name = net_of_spec(spec)
        sums = {}
        with torch.no_grad():
            for f, x, t in zip(fs, xs, ts):
                ang = angle_of(x, angles)
                pb = predict(net, t, ang)
                tex, rain = kept(t, pb, ang), kept(x, t, ang)
                for k in (kind[osp.basename(f)], 'pooled'):
                    s = sums.setdefault(k, [[0.0] * (len(LENGTHS) + 1) for _ in range(2)])
                    for i in range(len(LENGTHS) + 1):
                        s[0][i] += tex[i]; s[1][i] += rain[i]
        for k, (tex, rain) in sorted(sums.items()):
            print(f'{name} {k}: ' + ' '.join(
                f'L{n} texture {tex[i + 1] / tex[0]:.3f} rain {rain[i + 1] / rain[0]:.3f}'
                for i, n in enumerate(LENGTHS)), flush=True)


if __name__ == '__main__':
    main()
