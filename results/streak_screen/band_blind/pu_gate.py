"""Which part of the band-blind residual is rain: a positive-unlabelled gate (a measurement script).

``band_blind.py`` leaves ``r = max(O - P, 0)``: rain, and texture the band-blind prediction
``P`` could not draw from the sides. The same ``P`` applied to the unpaired clean photographs
leaves texture alone. A small classifier ``C`` that sees only ``r`` (turned so that the rain
direction is vertical; a receptive field of 11 columns by 63 rows) is trained to tell the
rainy folder's residual from the clean folder's, per pixel, with balanced batches. If the
rainy residual is a mixture ``p_rainy = (1 - pi) p_clean + pi p_rain``, the chance that a
pixel of a rainy image is rain given its residual pattern ``z`` is
``1 - (1 - pi) p_clean(z) / p_rainy(z)``; with the classifier's odds ``exp(C(z))`` standing
for ``p_rainy / p_clean`` and ``pi`` left out, the gate is ``g = max(0, 1 - exp(-C(z)))`` and
the background ``B = O - g * r``.

    pu_gate.py --pred RUN --out DIR --eval FOLDER...
        # reads RUN/pred/{train_rainy,train_clean,<eval name>}/ (band_blind.py --eval),
        # writes DIR/pu/<name>/ (B) and DIR/gate/<name>/ (g, grey, 0-255)

(N, 3, H, W) in [0, 1] throughout.
"""
import argparse, os, os.path as osp, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from band_blind import load, angle_of, rotate, run_angles, random_crop, read_prediction, save_png


def residual(run, name, folder):
    """Per image of ``folder``: (file, O (3,H,W), r (3,H,W), angle)."""
    out, angles = [], run_angles(run)
    fs, xs = load(folder)
    for f, x in zip(fs, xs):
        p = read_prediction(run, name, f)
        out.append((f, x, (x - p).clamp(min=0), angle_of(x, angles)))
    return out


def turned(r, ang):
    """(3,H,W) -> (3,H+2q,W+2q): reflect-padded by q = W // 4 and turned so the rain is vertical."""
    q = r.shape[-1] // 4
    return rotate(F.pad(r[None], (q,) * 4, mode='reflect'), ang)[0]


class Gate(nn.Module):
    """Per-pixel logit that a residual pattern comes from the rainy folder: (N,3,H,W) -> (N,1,H,W).
    Receptive field 11 columns x 63 rows (long along the rain)."""
    def __init__(self, ch=24):
        super().__init__()
        self.inp = nn.Conv2d(3, ch, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(ch, ch, 3, padding=(d, 1), dilation=(d, 1))
                                  for d in (2, 4, 8, 16))
        self.out = nn.Conv2d(ch, 1, 1)

    def forward(self, r):
        x = F.leaky_relu(self.inp(8 * r), 0.1)
        for conv in self.body:
            x = x + F.leaky_relu(conv(x), 0.1)
        return self.out(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--pred', required=True, help='band_blind.py output dir holding pred/')
    p.add_argument('--rainy', default='data/nlcl_demo_same_places/train_rainy')
    p.add_argument('--clean', default='data/nlcl_demo_same_places/train_clean')
    p.add_argument('--iters', type=int, default=1500)
    p.add_argument('--batch', type=int, default=8, help='crops per folder per step')
    p.add_argument('--crop', type=int, default=64)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True)
    p.add_argument('--eval', nargs='*', default=[])
    a = p.parse_args()
    torch.manual_seed(a.seed); np.random.seed(a.seed)
    net = Gate()
    pools = [[turned(r, ang) for _, _, r, ang in residual(a.pred, osp.basename(d.rstrip('/')), d)]
             for d in (a.rainy, a.clean)]
    print('rainy', len(pools[0]), 'clean', len(pools[1]), flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(a.iters, 1))
    t0, run = time.time(), 0.0
    for it in range(1, a.iters + 1):
        batch, labels = [], []
        for label, pool in ((1.0, pools[0]), (0.0, pools[1])):
            for _ in range(a.batch):
                batch.append(random_crop(pool, a.crop)); labels.append(label)
        b = torch.stack(batch)
        y = torch.tensor(labels).view(-1, 1, 1, 1).expand(-1, 1, a.crop, a.crop)
        loss = F.binary_cross_entropy_with_logits(net(b), y)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        run = loss.item() if it == 1 else 0.98 * run + 0.02 * loss.item()
        if it % 50 == 0:
            print(f'it {it} bce {run:.4f} {time.time() - t0:.0f}s', flush=True)
    os.makedirs(a.out, exist_ok=True)
    torch.save(net.state_dict(), osp.join(a.out, 'gate.pth'))
    net.eval()
    for folder in a.eval:
        name = osp.basename(folder.rstrip('/'))
        for sub in ('pu', 'gate'):
            os.makedirs(osp.join(a.out, sub, name), exist_ok=True)
        means = []
        with torch.no_grad():
            for f, x, r, ang in residual(a.pred, name, folder):
                q = r.shape[-1] // 4
                z = net(turned(r, ang)[None])
                g = rotate((1 - torch.exp(-z)).clamp(min=0), ang, inverse=True)[..., q:-q, q:-q][0]
                b = x - g * r
                base = osp.splitext(osp.basename(f))[0] + '.png'
                save_png(osp.join(a.out, 'pu', name, base), b)
                save_png(osp.join(a.out, 'gate', name, base), g)
                means.append(float(g.mean()))
        print(f'{name}: mean gate {np.mean(means):.3f}', flush=True)
    print('done', flush=True)


if __name__ == '__main__':
    main()
