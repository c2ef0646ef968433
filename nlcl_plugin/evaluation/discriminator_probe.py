"""Can the discriminator see the rain? NLCL's D trained alone, tested on rain-free twins.

:func:`probe` trains the discriminator with the LSGAN loss on half of the demo's unpaired
training crops (rainy = fake, clean = real) and scores the other half of the rainy crops,
the same crops without their rain (the demo's ``train_target/``) and the other clean
crops (:func:`rain_scores`). ``tools/discriminator_probe.py`` is the command line.
"""
import glob
import os.path as osp
import time

__all__ = ['load_folder', 'held_out_pairs', 'centre', 'rain_scores', 'late_summary', 'probe']


def load_folder(folder):
    import torch

    from ..image_io import read_image
    files = sorted(glob.glob(osp.join(folder, '*.png')))
    if not files:
        raise FileNotFoundError(f'no PNG images in {folder}')
    return files, [torch.from_numpy(read_image(f)[0]).permute(2, 0, 1).float() / 127.5 - 1
                   for f in files]


def held_out_pairs(num):
    """Indices ``(train, held_out)``: even crops train D, odd ones are only scored."""
    idx = list(range(num))
    return idx[0::2], idx[1::2]


def centre(x, s):
    """The central ``s`` x ``s`` crop of a (C, H, W) image, batched: (1, C, s, s)."""
    h, w = x.shape[1:]
    t, l_ = (h - s) // 2, (w - s) // 2
    return x[None, :, t:t + s, l_:l_ + s]


def rain_scores(d_rainy, d_twin, d_clean):
    """Summary of one check (numpy arrays of mean D scores per crop).

    gap: mean D(rain-free twin) - mean D(rainy crop); pair accuracy: share of pairs where
    the twin scores higher; rain share: the gap over D's whole separation of the folders,
    mean D(clean crop) - mean D(rainy crop), i.e. how much of what tells the folders apart
    is the rain (1: all of it, 0: none; content and tone make up the rest).
    """
    import numpy as np
    gap = float(np.mean(d_twin) - np.mean(d_rainy))
    sep = float(np.mean(d_clean) - np.mean(d_rainy))
    return dict(d_rainy=float(np.mean(d_rainy)), d_rain_free=float(np.mean(d_twin)),
                d_clean=float(np.mean(d_clean)), gap=gap,
                pair_accuracy=float(np.mean(np.asarray(d_twin) > np.asarray(d_rainy))),
                rain_share=gap / sep if abs(sep) > 1e-6 else float('nan'))


def late_summary(rows, steps):
    """Means of the checks in the last third of the run (step >= 2/3 of ``steps``):
    ``loss``, ``gap``, ``pair_accuracy``, ``rain_share``; the checks swing, so a table of
    several seeds reads better from these than from one check."""
    late = [r for r in rows if 3 * r['step'] >= 2 * steps] or rows[-1:]
    return {k: sum(r[k] for r in late) / len(late)
            for k in ('loss', 'gap', 'pair_accuracy', 'rain_share')}


def probe(data_root, steps=200, crop=128, norm='instance', init_gain=0.02, disc_input='image',
          num_layers=3, lr=2e-4, seed=0, augment='none', r1_gamma=0.0, batch=1,
          folders=None):
    """Train the discriminator alone for ``steps`` LSGAN steps on random ``crop`` crops of
    the even-numbered demo training crops under ``data_root`` (built if missing) and
    check it every 50 steps (and at the last) on the odd-numbered ones.

    Args:
        augment (str): 'none' or 'dihedral' (every judged crop under a random symmetry of
            the square, :class:`~nlcl_plugin.models.disc_augment.DihedralAugment`).
        r1_gamma (float): Weight of the R1 penalty ``gamma / 2 * E|grad D(real)|^2``
            (0: none).
        batch (int): Rainy and clean crops per step.
        folders (dict, optional): ``train_rainy``, ``train_clean`` and ``train_target``
            folders to use instead of the demo's (the twins named as the rainy crops).

    Returns:
        list[dict]: one row per check: ``step``, ``loss`` (mean of the last 50 steps),
        the :func:`rain_scores`, ``d_clean_seen`` and ``d_rainy_seen`` (mean D of the
        centres of the clean and rainy crops D trains on), ``memorised``
        (``d_clean_seen - d_clean``: how much higher D scores the clean crops it trained
        on than held-out ones), ``memorised_fake`` (``d_rainy - d_rainy_seen``: how much
        lower it scores the rainy crops it trained on) and ``seconds`` since the start.
    """
    import numpy as np
    import torch

    from ..data import prepare_demo_data
    from ..models.detail_layer import DetailLayer, GrayToneAndDetail
    from ..models.disc_augment import build_disc_augment
    from ..models.discriminator import PatchDiscriminator
    aug = build_disc_augment(augment) or torch.nn.Identity()  # checked before any loading
    paths = folders if folders is not None else prepare_demo_data(data_root)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    _, rainy = load_folder(paths['train_rainy'])
    _, clean = load_folder(paths['train_clean'])
    twins = load_folder(paths['train_target'])[1]  # same names as train_rainy
    rainy_train, rainy_held = held_out_pairs(len(rainy))
    clean_train, clean_held = held_out_pairs(len(clean))
    view = (torch.nn.Identity() if disc_input == 'image' else
            GrayToneAndDetail(3.0) if disc_input == 'gray_tone_detail' else
            DetailLayer(3.0, gray=disc_input == 'gray_detail'))
    disc = PatchDiscriminator(norm=norm, init_gain=init_gain, num_layers=num_layers)
    opt = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    s = crop

    def random_crop(x):
        h, w = x.shape[1:]
        t, l_ = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        return x[None, :, t:t + s, l_:l_ + s]

    def score(images, picks):
        return np.array([float(disc(view(centre(images[i], s))).mean()) for i in picks])

    def draw(images, picks):
        return torch.cat([random_crop(images[picks[int(rng.integers(len(picks)))]])
                          for _ in range(batch)])

    rows, losses, start = [], [], time.time()
    for step in range(1, steps + 1):
        fake = disc(aug(view(draw(rainy, rainy_train))))
        real_in = aug(view(draw(clean, clean_train))).requires_grad_(r1_gamma > 0)
        real = disc(real_in)
        loss = 0.5 * (fake ** 2).mean() + 0.5 * ((real - 1) ** 2).mean()
        if r1_gamma > 0:
            grad, = torch.autograd.grad(real.sum(), real_in, create_graph=True)
            loss = loss + 0.5 * r1_gamma * grad.pow(2).flatten(1).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach().item())
        if step % 50 == 0 or step == steps:
            with torch.no_grad():
                row = rain_scores(score(rainy, rainy_held), score(twins, rainy_held),
                                  score(clean, clean_held))
                seen = float(score(clean, clean_train).mean())
                seen_fake = float(score(rainy, rainy_train).mean())
            rows.append(dict(step=step, loss=float(np.mean(losses[-50:])), **row,
                             d_clean_seen=seen, memorised=seen - row['d_clean'],
                             d_rainy_seen=seen_fake,
                             memorised_fake=row['d_rainy'] - seen_fake,
                             seconds=round(time.time() - start, 1)))
    return rows
