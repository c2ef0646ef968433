"""Learning curves of a training run and the gradient each loss term sends to G_B and G_R.

What ``tools/training_diagnostics.py`` draws: the scalars a run logged
(:func:`read_scalars`), the norm of each generator loss term's gradient into G_B's and
G_R's parameters at every checkpoint (:func:`checkpoint_gradients`), every checkpoint's
scores on the test split (:func:`raw_validation`) or on the demo's training crops against
their rain-free twins (:func:`train_pairs_validation`), and the figure (:func:`plot`).
"""
import glob
import json
import os
import os.path as osp

from .report import evaluate

__all__ = ['TERMS', 'read_scalars', 'fixed_batches', 'gradient_norms', 'checkpoint_gradients',
           'checkpoints', 'checkpoint_scores', 'raw_validation', 'train_pairs_validation',
           'input_psnr', 'plot']

# the last five only with the optional losses of the same names
TERMS = ('loss_gan', 'loss_loc', 'loss_layer', 'loss_consistency', 'loss_sparsity',
         'loss_identity', 'loss_transplant', 'loss_idempotence', 'loss_streak_floor',
         'loss_exclusion')


def read_scalars(work_dir):
    """(train records, val records) from the run's latest ``scalars.json``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}')
    train, val = [], []
    for path in files:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss_g' in rec or 'loss_d' in rec:
                    train.append(rec)
                else:
                    if not rec.get('step') and train:
                        # logged by epoch (step 0): the validation ran after this iteration
                        rec['step'] = train[-1]['step']
                    val.append(rec)
    return train, val


def fixed_batches(cfg, num, crop):
    """``num`` (rainy, clean) pairs of centre crops from the training folders, [-1, 1]."""
    import numpy as np
    import torch

    from ..image_io import read_image
    ds = cfg.train_dataloader.dataset
    root = ds.data_root
    folders = [osp.join(root, ds.data_prefix[k]) for k in ('rainy', 'clean')]
    names = [sorted(os.listdir(f)) for f in folders]
    picks = np.linspace(0, min(len(n) for n in names) - 1, num).round().astype(int)

    def load(folder, name):
        img, _ = read_image(osp.join(folder, name))
        h, w = img.shape[:2]
        t, l_ = (h - crop) // 2, (w - crop) // 2
        img = img[t:t + crop, l_:l_ + crop].astype(np.float32) / 127.5 - 1.0
        return torch.from_numpy(img).permute(2, 0, 1)[None]

    return [(load(folders[0], names[0][i]), load(folders[1], names[1][i])) for i in picks]


def gradient_norms(model, batches):
    """Mean over batches of ||d term / d params|| for G_B and G_R, per generator term."""
    import torch
    from mmagic.models.utils import set_requires_grad

    from ..models.sampler import iteration_rng
    objective = model.nlcl_objective
    nets = dict(background=list(model.generator.parameters()),
                rain=list(model.rain_generator.parameters()))
    sums = {t: dict(background=0.0, rain=0.0) for t in TERMS}
    set_requires_grad(model.discriminator, False)
    for i, (rainy, clean) in enumerate(batches):
        bg, rain, identity, feats = model.decompose(rainy, clean, with_features=True)
        losses = objective.generator_losses(
            model.generator, model.discriminator, rainy, bg, rain, clean, identity,
            generator_rng=iteration_rng(i, 0), source_features=feats)
        for term in (t for t in TERMS if t in losses):
            for net, params in nets.items():
                grads = torch.autograd.grad(losses[term], params, retain_graph=True,
                                            allow_unused=True)
                sq = sum(float(g.double().square().sum()) for g in grads if g is not None)
                sums[term][net] += sq ** 0.5 / len(batches)
    set_requires_grad(model.discriminator, True)
    return sums


def checkpoint_gradients(config, work_dir, batches_num):
    from mmagic.registry import MODELS
    from mmengine.registry import init_default_scope

    from ..mmagic.runner_utils import load_config
    from ..models.checkpoint import load_state_file
    cfg = load_config(config)
    init_default_scope('mmagic')
    batches = fixed_batches(cfg, batches_num, int(cfg.get('crop_size', 128)))
    out = []
    for path in checkpoints(work_dir):
        model = MODELS.build(cfg.model)
        state = load_state_file(path)
        model.load_state_dict(state['state_dict'], strict=False)
        model.train()
        norms = gradient_norms(model, batches)
        out.append(dict(iter=int(osp.basename(path)[5:-4]), norms=norms))
        print(f'{osp.basename(path)}: ' + '  '.join(
            f'{t[5:]} B {n["background"]:.2e} R {n["rain"]:.2e}' for t, n in norms.items()),
            flush=True)
    return out


def checkpoints(work_dir):
    return sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')),
                  key=lambda p: int(osp.basename(p)[5:-4]))


def checkpoint_scores(work_dir, root, what, ema=None, inputs='input', targets='target'):
    """PSNR/SSIM (Y) of every checkpoint's G_B (``ema``: as :meth:`Derainer.from_checkpoints`)
    on the rainy images ``root/inputs`` against their twins ``root/targets``, the share of
    the streaks' layer it took away (``streaks_taken_away``) and of the input's
    detail-band error it removed (``detail_removed``; :mod:`.error_bands`)."""
    from ..inference import Derainer
    out = []
    for path in checkpoints(work_dir):
        rows, _ = evaluate([(what, Derainer.from_checkpoints(path, ema=ema))], root, inputs,
                           targets)
        out.append(dict(step=int(osp.basename(path)[5:-4]), PSNR=rows[0]['psnr'],
                        SSIM=rows[0]['ssim'], streaks_taken_away=rows[0]['detail_projection'],
                        detail_removed=rows[0]['detail_removed']))
        print(f'{osp.basename(path)} {what}: PSNR {out[-1]["PSNR"]:.3f} '
              f'SSIM {out[-1]["SSIM"]:.4f} streaks taken away '
              f'{100 * out[-1]["streaks_taken_away"]:.1f} % detail error removed '
              f'{100 * out[-1]["detail_removed"]:.1f} %', flush=True)
    return out


def raw_validation(cfg, work_dir):
    """PSNR/SSIM (Y) of every checkpoint's raw G_B on the test split, for runs whose
    validation used the moving averages; [] otherwise."""
    if not cfg.model.get('is_use_ema', False):
        return []
    return checkpoint_scores(work_dir, cfg.test_dataloader.dataset.data_root, 'raw G_B',
                             ema=False)


def train_pairs_validation(cfg, work_dir):
    """PSNR/SSIM (Y) of every checkpoint's G_B (the averages when the run kept them) on
    the demo's training crops against their rain-free twins (``train_target/``, which
    training never reads), after the rainy crops' own scores (step 0 = the input).

    A criterion that leaves the test split alone: it scores the training scenes, which
    the run has seen rainy but never clean. Needs the demo data's layout.
    """
    root = osp.dirname(osp.normpath(cfg.test_dataloader.dataset.data_root))
    if not osp.isdir(osp.join(root, 'train_target')):
        raise FileNotFoundError(f'--train-pairs needs {root}/train_rainy and '
                                f'{root}/train_target (the demo data)')
    rows, _ = evaluate([('input', None)], root, 'train_rainy', 'train_target')
    print(f'input on the training crops: PSNR {rows[0]["psnr"]:.3f} '
          f'SSIM {rows[0]["ssim"]:.4f}', flush=True)
    return [dict(step=0, PSNR=rows[0]['psnr'], SSIM=rows[0]['ssim'])] + checkpoint_scores(
        work_dir, root, 'on the training crops', inputs='train_rainy', targets='train_target')


def input_psnr(cfg):
    rows, _ = evaluate([('input', None)], cfg.test_dataloader.dataset.data_root)
    return rows[0]['psnr'], rows[0]['ssim']


def plot(train, val, grads, baseline, path, title, raw_val=(), train_pairs=()):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3 if grads else 2, figsize=(16 if grads else 11, 4.2))
    ax = axes[0]
    its = [r['step'] for r in val if 'PSNR' in r]
    name = 'averaged G_B' if raw_val else 'G_B output'
    ax.plot(its, [r['PSNR'] for r in val if 'PSNR' in r], 'o-', label=f'PSNR, {name}')
    if raw_val:
        ax.plot([r['step'] for r in raw_val], [r['PSNR'] for r in raw_val], 'o:',
                color='C2', label='PSNR, raw G_B')
    if baseline:
        ax.axhline(baseline[0], color='C0', ls='--', label='PSNR, rainy input')
    if train_pairs:
        ax.plot([r['step'] for r in train_pairs[1:]], [r['PSNR'] for r in train_pairs[1:]],
                '^-', color='C3', label=f'PSNR, {name}, training crops vs twins')
        ax.axhline(train_pairs[0]['PSNR'], color='C3', ls='--',
                   label='PSNR, rainy training crops')
    ax.set_xlabel('iteration')
    ax.set_ylabel('PSNR (Y), demo test split')
    lines, labels = ax.get_legend_handles_labels()
    ssim_its = [r['step'] for r in val if 'SSIM' in r]
    if ssim_its:
        ax2 = ax.twinx()
        ax2.plot(ssim_its, [r['SSIM'] for r in val if 'SSIM' in r], 's-', color='C1',
                 label=f'SSIM, {name}')
        if raw_val:
            ax2.plot([r['step'] for r in raw_val], [r['SSIM'] for r in raw_val], 's:',
                     color='C3', label='SSIM, raw G_B')
        if baseline:
            ax2.axhline(baseline[1], color='C1', ls=':', label='SSIM, rainy input')
        ax2.set_ylabel('SSIM (Y)')
        more, more_labels = ax2.get_legend_handles_labels()
        lines, labels = lines + more, labels + more_labels
    ax.legend(lines, labels, fontsize=7)
    ax.set_title('validation')
    ax = axes[1]
    steps = [r['step'] for r in train]
    for key in ('loss_d', ) + TERMS + ('layer_floor_gap', ):
        vals = [r.get(key) for r in train]
        if any(v is not None for v in vals):
            ax.plot(steps, vals, label=key)
    ax.set_yscale('symlog', linthresh=1e-3)
    ax.set_xlabel('iteration')
    ax.set_title('loss terms (as weighted)')
    ax.legend(fontsize=7)
    if grads:
        ax = axes[2]
        its = [g['iter'] for g in grads]
        for c, term in enumerate(TERMS):
            for net, style in (('background', 'o-'), ('rain', 'x:')):
                vals = [g['norms'][term][net] for g in grads]
                if max(vals) > 0:
                    ax.plot(its, vals, style, color=f'C{c}',
                            label=f'{term[5:]} -> G_{"B" if net == "background" else "R"}')
        ax.set_yscale('log')
        ax.set_xlabel('iteration (checkpoint)')
        ax.set_title('gradient norm per term')
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
