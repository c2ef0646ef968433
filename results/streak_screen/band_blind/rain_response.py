"""How much a band-blind prediction answers the rain, apart from the texture it misses (a
measurement script).

    rain_response.py SPLIT NET [NET ...]   # SPLIT: train, test or RAINY:TWINS; NET: net.pth[:HALF]

``drawn_share.py``'s share <P(O) - B, R> / <R, R> (R = O - B, B the rain-free twin) splits
exactly into two parts: the prediction's response to the rain, <P(O) - P(B), R> / <R, R>
(P run on the twin turned by the rainy image's own direction), and the texture it misses,
<P(B) - B, R> / <R, R>, which is not 0 where the rain's light depends on the background
(alpha compositing lays less light on bright pixels). Printed per rain kind, whole and in the
detail band (sigma 3), for the training cells or the test split of data/nlcl_demo_same_places
(or $NLCL_DATA), or for a folder of rainy images and one of their twins (``RAINY:TWINS``).
``:HALF`` gives the band's half width of a net saved without net_args.json.

A second line per net gives where the response lies across the rain: the response's mean
(over the channels) at ``d`` pixels across the rain direction from the rain's brightest
pixels (the top 2 % of R's channel mean per image), as a share of R's mean there, d = 0 .. 12.
A third gives the texture P misses on the twin where it leaves light, m = max(B - P(B), 0)
(what ``min`` takes from a rain-free image), and the part of it the line opening of 11
pixels along the rain keeps (what ``line11`` takes): their means over the kind's pixels and
channels, times 1000, and the second's share of the first.
"""
import math, os.path as osp, sys
import torch
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..')); sys.path.insert(0, HERE)
from band_blind import angle_of, line_residual, load_pairs, net_of_spec, predict
from nlcl_plugin.models.detail_layer import DetailLayer


OFFSETS = (0, 1, 2, 3, 4, 6, 8, 12)


def across(v, mask, angle, d):
    """Sum of (H,W) ``v`` at the pixels ``d`` across the rain direction ``angle`` from the
    pixels of ``mask``, both sides (nearest pixel; wrapped at the border)."""
    a = math.radians(angle)
    dx, dy = round(d * math.cos(a)), round(-d * math.sin(a))
    total = 0.0
    for s in ((1, -1) if d else (1,)):
        total += float(torch.roll(v, (-s * dy, -s * dx), (0, 1))[mask].sum()) / (2 if d else 1)
    return total


def main():
    split = sys.argv[1]
    if ':' in split:
        folders = [osp.abspath(f) for f in split.split(':')]
    else:
        folders = {'train': ('train_rainy', 'train_target'),
                   'test': ('test/input', 'test/target')}[split]
    fs, xs, ts, kind = load_pairs(*folders)
    detail = DetailLayer(3.0)
    for spec in sys.argv[2:]:
        net, angles, name = net_of_spec(spec)
        sums, profiles, texture_left = {}, {}, {}
        with torch.no_grad():
            for f, x, t in zip(fs, xs, ts):
                ang = angle_of(x, angles)
                po, pb = predict(net, x, ang), predict(net, t, ang)
                r = x - t
                parts = (po - pb, pb - t, r)
                dets = [detail(v[None])[0] for v in parts]
                k = kind[osp.basename(f)]
                s = sums.setdefault(k, [0.0] * 6)
                for i, (v, d) in enumerate(zip(parts, dets)):
                    s[i] += float((v * r).sum()); s[3 + i] += float((d * dets[2]).sum())
                m = (t - pb).clamp(min=0)
                tx = texture_left.setdefault(k, [0.0, 0.0, 0])
                tx[0] += float(m.sum()); tx[1] += float(line_residual(t, pb, ang).sum())
                tx[2] += m.numel()
                rm, resp = r.mean(0), (po - pb).mean(0)
                mask = rm >= torch.quantile(rm.flatten(), 0.98)
                pr = profiles.setdefault(k, [0.0] * (len(OFFSETS) + 1))
                pr[-1] += float(rm[mask].sum())
                for i, d in enumerate(OFFSETS):
                    pr[i] += across(resp, mask, ang, d)
        print(name + ': ' + '; '.join(
            f'{k} response {s[0] / s[2]:.3f} miss {s[1] / s[2]:.3f} '
            f'(detail {s[3] / s[5]:.3f} / {s[4] / s[5]:.3f})'
            for k, s in sorted(sums.items())), flush=True)
        print(name + ' across: ' + '; '.join(
            k + ' ' + ' '.join(f'{d}:{v / pr[-1]:.2f}' for d, v in zip(OFFSETS, pr))
            for k, pr in sorted(profiles.items())), flush=True)
        print(name + ' texture missed: ' + '; '.join(
            f'{k} {1000 * tx[0] / tx[2]:.2f}, kept by line11 {1000 * tx[1] / tx[2]:.2f} '
            f'({tx[1] / tx[0]:.3f})' for k, tx in sorted(texture_left.items())), flush=True)


if __name__ == '__main__':
    main()
