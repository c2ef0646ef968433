"""A band-blind self-prediction of rainy images (a measurement script).

A network ``P`` predicts each pixel of a rainy image ``O`` from everything except a band
of ``2 * half + 1`` columns along the image's rain direction through it (the image is
turned so that its rain, found by ``dominant_angle`` of the thin light among
``STREAK_ANGLES`` or, with ``--angle-max``, within that many degrees of vertical, is
vertical; the network's two branches see only the columns left and right of the band).
Trained with L1 on the rainy cells alone, ``P`` cannot draw a streak or a drop that lies
in the band, so where rain is sparse the L1 optimum is the background; texture in the band
it can only guess from the sides. ``combine.py`` turns ``P`` into a background estimate.

    band_blind.py --out DIR --eval FOLDER...   # trains on --train, writes DIR/pred/<name>/

(N, 3, H, W) in [0, 1] throughout.
"""
import argparse, glob, json, math, os, os.path as osp, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', '..'))
from nlcl_plugin.image_io import read_image
from nlcl_plugin.evaluation.per_kind import kinds_of_folder
from nlcl_plugin.models.thin_light import white_top_hat
from nlcl_plugin.models.streak_light import dominant_angle, line_opening, STREAK_ANGLES
import cv2


def load(folder):
    files = sorted(f for f in glob.glob(osp.join(folder, '*'))
                   if f.lower().endswith(('.png', '.jpg', '.jpeg')))
    return files, [torch.from_numpy(read_image(f)[0]).permute(2, 0, 1).float() / 255 for f in files]


def angle_set(max_deg=None, step=2.5):
    """The rain directions searched: STREAK_ANGLES (all, 7.5 degrees apart) by default, or
    -max_deg..max_deg in ``step`` degrees (rain falls within ``max_deg`` of vertical)."""
    if max_deg is None:
        return list(STREAK_ANGLES)
    n = int(round(max_deg / step))
    return [float(k * step) for k in range(-n, n + 1)]


def run_angles(run):
    """The direction set a band_blind.py run used (RUN/angle_set.json; STREAK_ANGLES if absent)."""
    f = osp.join(run, 'angle_set.json')
    if not osp.exists(f):
        return list(STREAK_ANGLES)
    with open(f) as fh:
        return json.load(fh)


def angle_of(x, angles=STREAK_ANGLES):
    thin = white_top_hat(x[None], 7)
    return angles[int(dominant_angle(thin, 21, angles)[0])]


def rotate(x, angle_deg, inverse=False):
    """(N,C,H,W): sample so that direction (sin a, cos a) becomes vertical (or back)."""
    n, c, h, w = x.shape
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    if inverse:
        sa = -sa
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) - (h - 1) / 2,
                            torch.arange(w, dtype=torch.float32) - (w - 1) / 2, indexing='ij')
    xin = ca * xs + sa * ys
    yin = -sa * xs + ca * ys
    grid = torch.stack([xin / ((w - 1) / 2), yin / ((h - 1) / 2)], -1)[None].expand(n, h, w, 2)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='reflection', align_corners=True)


class LeftConv(nn.Module):
    """3x3 conv whose output at column x sees input columns x-2d..x only."""
    def __init__(self, cin, cout, dy, dx):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, dilation=(dy, dx))
        self.dy, self.dx = dy, dx

    def forward(self, x):
        x = F.pad(x, (2 * self.dx, 0, self.dy, self.dy), mode='replicate')
        return self.conv(x)


class Branch(nn.Module):
    def __init__(self, ch, dil):
        super().__init__()
        layers, cin = [], 3
        for d in dil:
            layers.append(LeftConv(cin, ch, d[0], d[1]))
            cin = ch
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        for i, l in enumerate(self.layers):
            y = l(x)
            x = F.leaky_relu(y, 0.1) if i == 0 else x + F.leaky_relu(y, 0.1)  # residual after the first
        return x


def hue(x):
    """The direction of each pixel's chroma, c / |c| with c = x - mean over the channels (0
    where the pixel is grey): (N,3,H,W) -> (N,3,H,W). It does not change when grey light is
    added (c stays) nor under alpha or screen compositing with white (c is scaled by 1 - a),
    so it holds a texture's colour edges and no achromatic rain."""
    c = x - x.mean(1, keepdim=True)
    n = c.norm(dim=1, keepdim=True)
    return torch.where(n > 1e-6, c / n.clamp(min=1e-6), torch.zeros_like(c))


class HueBranch(nn.Module):
    """Plain 3x3 convolutions (dilations 1, 2, 4, 1) over :func:`hue` of every pixel, the
    band's included: (N,3,H,W) -> (N,ch,H,W)."""
    def __init__(self, ch):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3 if i == 0 else ch, ch, 3, padding=d, dilation=d,
                                             padding_mode='replicate')
                                   for i, d in enumerate((1, 2, 4, 1)))

    def forward(self, x):
        x = hue(x)
        for i, conv in enumerate(self.convs):
            y = F.leaky_relu(conv(x), 0.1)
            x = y if i == 0 else x + y
        return x


def along_differences(x):
    """O(y + 1) - O(y) down each column, 0 on the last row: (N,3,H,W) -> (N,3,H,W). Light
    that is constant down a column (a streak along the rain direction, turned vertical) does
    not change it."""
    return F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))


class AlongBranch(nn.Module):
    """What the band's own columns show of the texture down them, blind to light constant
    down a column: one convolution over :func:`along_differences` of the band's ``2 * half +
    1`` columns and rows ``y - k`` .. ``y + k``, then 1x1 convolutions:
    (N,3,H,W) -> (N,ch,H,W). A streak through (x, y) that covers those rows leaves it as
    it is; a streak ending within ``k`` rows of the pixel does not."""
    def __init__(self, ch, half, k):
        super().__init__()
        self.half, self.k = half, k
        self.conv = nn.Conv2d(3, ch, (2 * k, 2 * half + 1))
        self.mix = nn.Sequential(nn.LeakyReLU(0.1), nn.Conv2d(ch, ch, 1), nn.LeakyReLU(0.1))

    def forward(self, x):
        d = F.pad(along_differences(x), (self.half, self.half, self.k, self.k - 1),
                  mode='replicate')
        return self.mix(self.conv(d))


class BandBlindNet(nn.Module):
    """Prediction at (x, y) from columns < x - half and > x + half only; with ``hue_ch``, also
    from the chroma direction (:func:`hue`) of every pixel, the band's included; with
    ``along_k``, also from the band's differences down its columns within ``along_k`` rows
    (:class:`AlongBranch`)."""
    def __init__(self, ch=32, half=3, dil=((1, 1), (1, 1), (2, 2), (2, 2), (4, 4), (4, 4), (8, 8), (8, 8), (1, 1)),
                 hue_ch=0, along_k=0):
        super().__init__()
        self.half = half
        self.branch = Branch(ch, dil)
        self.hue = HueBranch(hue_ch) if hue_ch else None
        self.along = AlongBranch(ch, half, along_k) if along_k else None
        extra = hue_ch + (ch if along_k else 0)
        self.head = nn.Sequential(nn.Conv2d(2 * ch + extra, 2 * ch, 1), nn.LeakyReLU(0.1),
                                  nn.Conv2d(2 * ch, ch, 1), nn.LeakyReLU(0.1), nn.Conv2d(ch, 3, 1))

    def _left(self, x):
        f = self.branch(x)
        s = self.half + 1
        return F.pad(f, (s, 0, 0, 0))[..., :x.shape[-1]]

    def forward(self, x):
        left = self._left(x)
        right = self._left(x.flip(-1)).flip(-1)
        feats = [left, right] + ([self.hue(x)] if self.hue is not None else []) \
            + ([self.along(x)] if self.along is not None else [])
        return self.head(torch.cat(feats, 1))


def save_png(path, x):
    """Write (C,H,W) in [0, 1] (C = 3, RGB, or 1) as an 8-bit PNG."""
    arr = (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    cv2.imwrite(path, arr[:, :, ::-1] if arr.shape[2] == 3 else arr[:, :, 0])


def write_mode(run, mode, name, base, y):
    """Write (3,H,W) ``y`` as RUN/<mode>/NAME/<base>: one mode's output for one image."""
    folder = osp.join(run, mode, name)
    os.makedirs(folder, exist_ok=True)
    save_png(osp.join(folder, base), y)


def read_prediction(run, name, file):
    """The prediction band_blind.py wrote for ``file`` of folder ``name``: (3,H,W) in [0, 1]."""
    path = osp.join(run, 'pred', name, osp.splitext(osp.basename(file))[0] + '.png')
    return torch.from_numpy(read_image(path)[0]).permute(2, 0, 1).float() / 255


def line_residual(x, p, angle, length=11):
    """The light O holds above the prediction, max(O - P, 0), opened with a line of ``length``
    pixels along ``angle`` (what combine.py's ``line11`` takes): (3,H,W) x 2 -> (3,H,W)."""
    return line_opening((x - p).clamp(min=0)[None], length, angle)[0]


def load_like(folder, files):
    """The images of ``folder`` named as ``files`` are (any image extension), in that order:
    a model's outputs for them. Raises ValueError naming ``folder`` if they do not match."""
    outs, xs = load(folder)
    stem = lambda f: osp.splitext(osp.basename(f))[0]
    if [stem(f) for f in outs] != [stem(f) for f in files]:
        raise ValueError(f'{folder} does not hold the images of {osp.dirname(files[0])} under their names')
    return xs


def load_pairs(rainy='train_rainy', twins='train_target'):
    """The rainy images of folder ``rainy``, their rain-free twins (the same names in
    ``twins``) and each image's rain kind: ``(files, images, twin images, basename -> kind)``.
    Relative folders are read under $NLCL_DATA (data/nlcl_demo_same_places by default)."""
    root = os.environ.get('NLCL_DATA', 'data/nlcl_demo_same_places')
    rainy, twins = osp.join(root, rainy), osp.join(root, twins)
    files, xs = load(rainy)
    return files, xs, load_like(twins, files), kinds_of_folder(rainy)


def random_crop(images, size):
    """A ``size`` x ``size`` crop of a random image of ``images`` (each (C,H,W)), flipped
    left-right and up-down each with chance 1/2 (numpy's global generator)."""
    x = images[np.random.randint(len(images))]
    h, w = x.shape[1:]
    t = np.random.randint(0, h - size + 1); l = np.random.randint(0, w - size + 1)
    c = x[:, t:t + size, l:l + size]
    if np.random.rand() < 0.5: c = c.flip(-1)
    if np.random.rand() < 0.5: c = c.flip(-2)
    return c


def check_blind(net, half):
    """Column 30's prediction must not change with the light in columns 30 +- half: with no
    hue branch it sees no pixel there; with one, not the grey light added nor white laid over
    them with any opacity; with an along branch, no light constant down the band's columns.
    Returns the columns seen through the band-blind branches."""
    x = torch.rand(1, 3, 40, 60, requires_grad=True)
    y = net(x)
    y[0, :, 20, 30].sum().backward()
    g = x.grad[0].abs().sum(0)
    if net.hue is not None:
        with torch.no_grad():
            band = slice(30 - half, 31 + half)
            z = x.detach().clone()
            a = torch.rand(1, 1, 40, 2 * half + 1) * 0.9
            z[..., band] = (1 - a) * z[..., band] + a + torch.rand(1, 1, 40, 2 * half + 1) * 0.3
            d = (net(z) - y)[0, :, :, 30].abs().max().item()
        assert d < 1e-4, f'the band\'s light changes the prediction by {d}'
        g = g.clone(); g[:, band] = 0
    if net.along is not None:
        with torch.no_grad():
            band = slice(30 - half, 31 + half)
            z = x.detach().clone()
            z[..., band] = z[..., band] + torch.rand(1, 3, 1, 2 * half + 1)
            d = (net(z) - y)[0, :, :, 30].abs().max().item()
            # a streak that starts k rows below row 20 changes row 20's prediction, one that
            # starts k + 1 rows below does not: the branch's reach down the band
            k = net.along.k
            seen = []
            for top in (20 + k, 21 + k):
                w = x.detach().clone()
                w[..., top:, band] += 0.5
                seen.append((net(w) - y)[0, :, 20, 30].abs().max().item())
        assert d < 1e-4, f'light constant down the band changes the prediction by {d}'
        assert seen[0] > 1e-6 and seen[1] < 1e-6, f'the along branch reaches {seen}'
        g = g.clone(); g[:, band] = 0
    cols = (g.sum(0) > 0).nonzero().flatten().tolist()
    assert all(abs(c - 30) > half for c in cols), cols
    return cols


def predict(net, x, angle):
    """P's prediction of one image (3,H,W) turned by ``angle`` (its rain direction), padded by
    a quarter of its width with reflection: (3,H,W) -> (3,H,W)."""
    pad = x.shape[-1] // 4
    xp = F.pad(x[None], (pad,) * 4, mode='reflect')
    return rotate(net(rotate(xp, angle)), angle, inverse=True)[0, :, pad:-pad, pad:-pad]


def saved_net_args(path, half=None):
    """The shape of a trained ``net.pth``, from ``net_args.json`` beside it; older runs have
    none (32 channels, no extra branch): give their ``half``. Returns ``net_args``' dict."""
    f = osp.join(osp.dirname(osp.abspath(path)), 'net_args.json')
    if osp.exists(f):
        with open(f) as fh:
            return {'along_k': 0, **json.load(fh)}
    if half is None:
        raise ValueError(f'{f} is missing: give the band\'s half width of {path}')
    return {'ch': 32, 'half': half, 'hue_ch': 0, 'along_k': 0}


def load_net(path, half=None):
    """A trained ``net.pth`` (its shape from :func:`saved_net_args`), in eval mode."""
    args = saved_net_args(path, half)
    net = BandBlindNet(args['ch'], args['half'], hue_ch=args['hue_ch'], along_k=args['along_k'])
    net.load_state_dict(torch.load(path))
    return net.eval()


def net_of_spec(spec):
    """A measurement script's ``NET[:HALF]`` argument (``HALF`` for a net saved without
    net_args.json): ``(net, the run's direction set, the run's name)``."""
    path, _, half = spec.partition(':')
    run = osp.dirname(osp.abspath(path))
    return load_net(path, int(half) if half else None), run_angles(run), osp.basename(run)


def net_args(a):
    return {'ch': a.ch, 'half': a.half, 'hue_ch': a.hue, 'along_k': a.along}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--train', nargs='+', default=['data/nlcl_demo_same_places/train_rainy'],
                   help='the folders trained on (rainy, and clean ones where given)')
    p.add_argument('--iters', type=int, default=1000)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--crop', type=int, default=96)
    p.add_argument('--half', type=int, default=3)
    p.add_argument('--ch', type=int, default=32)
    p.add_argument('--hue', type=int, default=0,
                   help='channels of a branch that sees the chroma direction of every pixel, '
                        'the band included (0: none)')
    p.add_argument('--along', type=int, default=0,
                   help='rows k of a branch that sees the band\'s differences down its columns '
                        'within k rows of the pixel (0: none)')
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True)
    p.add_argument('--eval', nargs='*', default=[])
    p.add_argument('--save-at', type=int, nargs='*', default=[])
    p.add_argument('--load', help='a trained net.pth: skip training, only --eval')
    p.add_argument('--angle-max', type=float, default=None,
                   help='search the rain direction within this many degrees of vertical '
                        '(default: all of STREAK_ANGLES; with --load, the set saved beside '
                        'the net when there is one)')
    p.add_argument('--angle-step', type=float, default=2.5)
    a = p.parse_args()
    if a.load and a.angle_max is None:
        angles = run_angles(osp.dirname(osp.abspath(a.load)))
    else:
        angles = angle_set(a.angle_max, a.angle_step)
    if a.load:
        saved = saved_net_args(a.load, a.half)
        a.ch, a.half, a.hue, a.along = saved['ch'], saved['half'], saved['hue_ch'], saved['along_k']
    torch.manual_seed(a.seed); np.random.seed(a.seed)
    net = BandBlindNet(a.ch, a.half, hue_ch=a.hue, along_k=a.along)
    print('blind columns ok; seen cols', check_blind(net, a.half)[:3], '...', flush=True)
    if a.load:
        net.load_state_dict(torch.load(a.load))
        a.iters = 0
    files, imgs = [], []
    for folder in (a.train if a.iters else []):
        fs, xs = load(folder)
        files += fs; imgs += xs
    ups = []
    for f, x in zip(files, imgs):
        ang = angle_of(x, angles)
        ups.append(rotate(x[None], ang)[0])
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(a.iters, 1))
    t0 = time.time(); run = 0
    for it in range(1, a.iters + 1):
        batch = []
        for _ in range(a.batch):
            batch.append(random_crop(ups, a.crop))
        b = torch.stack(batch)
        loss = (net(b) - b).abs().mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        run = loss.item() if it == 1 else 0.98 * run + 0.02 * loss.item()
        if it % 50 == 0:
            print(f'it {it} loss {run:.4f} {time.time() - t0:.0f}s', flush=True)
        if it in a.save_at:
            os.makedirs(a.out, exist_ok=True)
            torch.save(net.state_dict(), osp.join(a.out, f'net_{it}.pth'))
    os.makedirs(a.out, exist_ok=True)
    if not a.load:
        torch.save(net.state_dict(), osp.join(a.out, 'net.pth'))
    with open(osp.join(a.out, 'angle_set.json'), 'w') as f:
        json.dump(angles, f)
    with open(osp.join(a.out, 'net_args.json'), 'w') as f:
        json.dump(net_args(a), f)
    net.eval()
    for folder in a.eval:
        name = osp.basename(folder.rstrip('/'))
        fs, xs = load(folder)
        os.makedirs(osp.join(a.out, 'pred', name), exist_ok=True)
        with torch.no_grad():
            for f, x in zip(fs, xs):
                pr = predict(net, x, angle_of(x, angles))
                save_png(osp.join(a.out, 'pred', name, osp.splitext(osp.basename(f))[0] + '.png'), pr)
    print('done', flush=True)


if __name__ == '__main__':
    main()
