"""A rain layer learned from noise, laid over the clean cells, and G_B trained to take it off.

The measurement behind docs/training.md 4.26. Rain does not depend on the scene behind it.
A synthesiser S that sees only noise (no image) draws a non-negative grey layer r; it is
screen-blended over an unpaired clean cell C (in [0, 1] units x = c + r (1 - c); or added,
``--blend add``: x = min(c + r, 1)); a
discriminator D_rain, seeing the grey detail layer of each image under a random symmetry
of the square, tells these composites from the rainy cells O. S learns to draw what makes
a clean cell look like a rainy one; since it cannot see the scene, it cannot draw texture
that belongs to it. G_B (the free removal of light, as in 4.19-4.25) is trained on the
pairs (x, C) with L1: its target always keeps the clean cell's texture.

    python results/streak_screen/rain_synthesis/probe.py --out work_dirs/screen/RUN --seed S
        [--iters 1200] [--decay-from 1000] [--save 200 400 ...]
        [--pad reflect] [--gain 0.2] [--flat-start] [--start 200] [--blend add]

Writes G_B's outputs on data/<layout>/train_rainy and test/input at each saved iteration
(out_N/train_rainy, out_N/test, as tools/derain.py --tile 0 would), samples of S's layer
(rain_N.png) and a log (probe.log). Scored by tools/error_bands.py as every screen run.
"""
import argparse
import glob
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmengine.config import Config

from nlcl_plugin.image_io import read_image, write_image
from nlcl_plugin.evaluation.discriminator_probe import load_folder
from nlcl_plugin.inference import image_to_tensor, tensor_to_image
from nlcl_plugin.models import DecompositionGenerator, PatchDiscriminator
from nlcl_plugin.models.detail_layer import DetailLayer
from nlcl_plugin.models.disc_augment import DihedralAugment

FREE = dict(thin_light_size=0, streak_length=0, off_streak_light=False, thin_light_init=0.0,
            veil_scale=0)


class NoiseRain(nn.Module):
    """Noise -> non-negative grey layer r in [0, 1), (N, 1, H, W); H, W multiples of 8.

    A spatial GAN generator (Jetchev et al., 2016): local noise on an H/8 x W/8 grid plus
    one global code per image broadcast over it (shared direction and density), three
    upsampling stages of 3x3 convolutions, r = 1 - exp(-softplus(out)).
    """

    def __init__(self, local: int = 16, glob_: int = 16, ch: int = 64, pad: str = 'zeros',
                 gain: float = 1.0, flat_start: bool = False):
        super().__init__()
        self.local, self.glob, self.gain = local, glob_, float(gain)
        c_in = local + glob_

        def conv(i, o):
            return nn.Conv2d(i, o, 3, 1, 1, padding_mode=pad)

        self.body = nn.Sequential(
            conv(c_in, ch), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2), conv(ch, ch), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2), conv(ch, ch), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2), conv(ch, ch // 2), nn.LeakyReLU(0.2),
            conv(ch // 2, ch // 2), nn.LeakyReLU(0.2),
            conv(ch // 2, 1))
        if flat_start:
            # a uniform, faint layer at first (invisible to a discriminator on the
            # detail layer; r = 1 - exp(-gain * softplus(-4)))
            nn.init.zeros_(self.body[-1].weight)
            nn.init.constant_(self.body[-1].bias, -4.0)
        else:
            nn.init.constant_(self.body[-1].bias, -3.0)

    def forward(self, n: int, h: int, w: int, generator=None) -> torch.Tensor:
        z = torch.randn(n, self.local, h // 8, w // 8, generator=generator)
        g = torch.randn(n, self.glob, 1, 1, generator=generator).expand(-1, -1, h // 8, w // 8)
        return 1.0 - torch.exp(-self.gain * F.softplus(self.body(torch.cat([z, g], 1))))


def screen(clean: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """x = c + r (1 - c) in [0, 1] units; clean in [-1, 1], r (N, 1, H, W) -> [-1, 1]."""
    c = (clean + 1.0) * 0.5
    return (c + r * (1.0 - c)) * 2.0 - 1.0


def add(clean: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """x = min(c + r, 1) in [0, 1] units; clean in [-1, 1], r (N, 1, H, W) -> [-1, 1]."""
    return (clean + 2.0 * r).clamp(max=1.0)


def crop(t: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    _, _, h, w = t.shape
    y = int(torch.randint(0, h - size + 1, (1,), generator=g))
    x = int(torch.randint(0, w - size + 1, (1,), generator=g))
    return t[:, :, y:y + size, x:x + size]


def lsgan(pred: torch.Tensor, target: float) -> torch.Tensor:
    return ((pred - target) ** 2).mean()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='data/nlcl_demo_same_places')
    p.add_argument('--out', required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--iters', type=int, default=1200)
    p.add_argument('--decay-from', type=int, default=1000)
    p.add_argument('--crop', type=int, default=128)
    p.add_argument('--lr', type=float, default=2e-4)
    p.add_argument('--save', type=int, nargs='+', default=[200, 400, 600, 800, 1000, 1200])
    p.add_argument('--pad', default='zeros', choices=['zeros', 'reflect'],
                   help="S's convolutions' padding")
    p.add_argument('--gain', type=float, default=1.0,
                   help='r = 1 - exp(-gain * softplus(out))')
    p.add_argument('--flat-start', action='store_true',
                   help="S's last convolution's weights at zero, its bias -4: a faint uniform layer at first")
    p.add_argument('--blend', default='screen', choices=['screen', 'add'],
                   help='how the layer is laid over the clean cell')
    p.add_argument('--start', type=int, default=0,
                   help='S and G_B train from this iteration on (D alone before)')
    args = p.parse_args()
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, 'probe.log'), 'a')

    cfg = Config.fromfile('configs/nlcl_demo_same_places.py')
    gen_cfg = dict(cfg.model.generator)
    gen_cfg.pop('type')
    gen_cfg.update(FREE)
    net_b = DecompositionGenerator(**gen_cfg)
    synth = NoiseRain(pad=args.pad, gain=args.gain, flat_start=args.flat_start)
    disc = PatchDiscriminator(in_channels=3, norm='none', init_gain=1.0)  # as the main D
    view, aug = DetailLayer(3.0, gray=True), DihedralAugment()
    betas = (0.5, 0.999)
    opt_b = torch.optim.Adam(net_b.parameters(), args.lr, betas=betas)
    opt_s = torch.optim.Adam(synth.parameters(), args.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), args.lr, betas=betas)
    opts = (opt_b, opt_s, opt_d)

    # (3, H, W) in [-1, 1] each -> (1, 3, H, W)
    rainy = [x[None] for x in load_folder(os.path.join(args.data, 'train_rainy'))[1]]
    clean = [x[None] for x in load_folder(os.path.join(args.data, 'train_clean'))[1]]
    eval_sets = {'train_rainy': os.path.join(args.data, 'train_rainy'),
                 'test': os.path.join(args.data, 'test', 'input')}
    print(f'{len(rainy)} rainy, {len(clean)} clean cells; G_B {gen_cfg}', file=log, flush=True)
    t0 = time.time()
    for it in range(1, args.iters + 1):
        # learning rate: constant, then linear to 1/11 of it over the last iterations
        frac = 1.0 if it <= args.decay_from else 1.0 - (it - args.decay_from) / (
            args.iters - args.decay_from) * (1.0 - 1.0 / 11.0)
        for o in opts:
            for group in o.param_groups:
                group['lr'] = args.lr * frac
        o_img = crop(rainy[int(torch.randint(len(rainy), (1,), generator=g))], args.crop, g)
        c_img = crop(clean[int(torch.randint(len(clean), (1,), generator=g))], args.crop, g)
        r = synth(1, args.crop, args.crop, generator=g)
        x = screen(c_img, r) if args.blend == 'screen' else add(c_img, r)
        # D_rain: rainy cells real, composites fake
        d_real = disc(aug(view(o_img), generator=g))
        d_fake = disc(aug(view(x.detach()), generator=g))
        loss_d = 0.5 * (lsgan(d_real, 1.0) + lsgan(d_fake, 0.0))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_s = loss_b = torch.zeros(())
        if it > args.start:
            # S: composites judged real
            disc.requires_grad_(False)
            loss_s = lsgan(disc(aug(view(x), generator=g)), 1.0)
            opt_s.zero_grad(set_to_none=True)
            loss_s.backward()
            opt_s.step()
            disc.requires_grad_(True)
            # G_B: take the drawn layer off, keep the clean cell
            loss_b = (net_b(x.detach()) - c_img).abs().mean()
            opt_b.zero_grad(set_to_none=True)
            loss_b.backward()
            opt_b.step()
        if it % 20 == 0:
            print(f'iter {it} loss_d {loss_d.item():.4f} loss_s {loss_s.item():.4f} '
                  f'loss_b {loss_b.item():.4f} r_mean {r.mean().item():.4f} '
                  f'r_p99 {torch.quantile(r.flatten(), 0.99).item():.4f} '
                  f'{time.time() - t0:.0f}s', file=log, flush=True)
        if it in args.save:
            net_b.eval()
            with torch.no_grad():
                for name, folder in eval_sets.items():
                    for f in sorted(glob.glob(os.path.join(folder, '*.png'))):
                        out = net_b(image_to_tensor(read_image(f)[0]))
                        write_image(os.path.join(args.out, f'out_{it}', name,
                                                 os.path.basename(f)), tensor_to_image(out))
                gs = torch.Generator().manual_seed(1234)
                rows = [synth(1, 128, 128, generator=gs)[0, 0] for _ in range(4)]
                strip = (torch.cat(rows, 1).clamp(0, 1) * 255).round().to(torch.uint8)
                write_image(os.path.join(args.out, f'rain_{it}.png'),
                            strip[..., None].expand(-1, -1, 3).numpy())
            torch.save(dict(generator=net_b.state_dict(), synth=synth.state_dict(),
                            disc=disc.state_dict(), iteration=it),
                       os.path.join(args.out, f'iter_{it}.pth'))
            net_b.train()
    log.close()


if __name__ == '__main__':
    main()
