"""Which loss terms raise or lower G_B's streak-light mask, on rain and on texture.

G_B with ``thin_light_size`` removes ``m * L(O)``, a learned share ``m`` (0..1 per pixel)
of a fixed light ``L(O)`` (the thin or the streak light). Each generator-step loss term
pushes the mask's pre-activation ``z_m`` (the extra channel of G_B's last layer) along
its negative gradient. :func:`mask_forces` sums that push, term by term, over the pixels
where the light is rain and over those where it is texture, as the crops' rain-free
twins tell them apart:

* light pixels: ``mean_c L(O) > threshold``;
* rain pixels among them: ``min(E+, L) > rain_share * L`` (the rain error
  ``E+ = max(mean_c (O - B), 0)`` accounts for most of the light);
* texture pixels: ``min(E+, L) < texture_share * L`` (the twin holds the light too).

A positive push raises the mask (takes more of the light away). Used to find what holds
the mask back (docs/training.md 4.10); ``tools/mask_forces.py`` is the command line
over :func:`load_model`, :func:`folder_crops` and :func:`summed_forces`.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch

__all__ = ['pixel_groups', 'mask_forces', 'mask_figure', 'load_model', 'folder_crops',
           'to_tensor', 'summed_forces']


def pixel_groups(light: torch.Tensor, rainy: torch.Tensor, twin: torch.Tensor,
                 threshold: float = 0.02, rain_share: float = 0.5,
                 texture_share: float = 0.1) -> Dict[str, torch.Tensor]:
    """Boolean maps (N, H, W) ``rain`` and ``texture`` of the light's pixels (see the
    module docstring); all tensors (N, C, H, W) in [-1, 1]."""
    level = light.mean(1)
    err = (rainy - twin).mean(1).clamp(min=0)
    held = torch.minimum(err, level)
    lit = level > threshold
    return dict(rain=lit & (held > rain_share * level), texture=lit & (held < texture_share * level))


def mask_forces(model, rainy: torch.Tensor, twin: torch.Tensor, clean: torch.Tensor,
                seed: int = 0, **group_kw) -> Dict[str, Dict[str, float]]:
    """Each generator-step term's push on the mask, summed over rain and texture pixels.

    Args:
        model: An NLCL model (``generator`` with ``thin_light_size``, ``rain_generator``,
            ``discriminator``, ``nlcl_objective``), weights loaded.
        rainy (Tensor): Rainy crops O, (N, 3, H, W) in [-1, 1].
        twin (Tensor): Their rain-free twins, same shape (only used to group pixels).
        clean (Tensor): Unpaired clean crops B_u, same shape (the identity terms).
        seed (int): Seed of the samplers' draws (the same for every term).
        **group_kw: :func:`pixel_groups`'s thresholds.

    Returns:
        dict: term (``loss_gan``, ``loss_loc``, ...) -> {``value``, ``rain``, ``texture``,
        ``all``}; a term that does not reach the rainy crops' mask (one at weight 0, the
        identity loss, which acts on the clean crops, or the idempotence loss, which acts
        on the mask of B passed again) pushes 0. And ``'mask'`` -> the
        mean mask over ``rain`` / ``texture`` / ``all`` pixels and their counts.

    Raises:
        ValueError: G_B has no mask (``thin_light_size`` is 0).
    """
    g = model.generator
    if not getattr(g, 'thin_light_size', 0):
        raise ValueError('the generator has no streak/thin light mask (thin_light_size=0)')
    objective, d = model.nlcl_objective, model.discriminator
    was = [p.requires_grad for p in d.parameters()]
    for p in d.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            out = g.forward_features(rainy, [g.num_layers - 1])[0]  # the last layer's
            groups = pixel_groups(g.thin_light(rainy), rainy, twin, **group_kw)
            rain = model.rain_generator(rainy)
            identity = g(clean) if objective.needs_identity else None
            mask = g.thin_light_mask(out)[:, 0]
        def terms():
            z = out.clone().requires_grad_(True)
            losses = objective.generator_losses(
                g, d, rainy, g.combine(rainy, z), rain, clean, identity,
                generator_rng=torch.Generator().manual_seed(seed))
            return z, losses

        result: Dict[str, Dict[str, float]] = {}
        z, losses = terms()
        names = sorted(losses)
        for i, name in enumerate(names):
            if i:  # a fresh graph per term: the same draws, one backward each
                z, losses = terms()
            if losses[name].requires_grad:
                losses[name].backward()
            if z.grad is not None:
                push = -z.grad[:, g.light_channels]
            else:  # a term that does not depend on O's mask (weight 0, clean crops only,
                # or G_B's own output passed without gradient: the idempotence loss)
                push = torch.zeros_like(mask)
            result[name] = dict(value=float(losses[name].detach()),
                                rain=float(push[groups['rain']].sum()),
                                texture=float(push[groups['texture']].sum()),
                                all=float(push.sum()))
    finally:
        for p, w in zip(d.parameters(), was):
            p.requires_grad_(w)
    result['mask'] = dict(rain=float(mask[groups['rain']].mean()) if groups['rain'].any() else
                          float('nan'),
                          texture=float(mask[groups['texture']].mean())
                          if groups['texture'].any() else float('nan'),
                          all=float(mask.mean()),
                          rain_pixels=int(groups['rain'].sum()),
                          texture_pixels=int(groups['texture'].sum()))
    return result


def mask_figure(models, rainy: torch.Tensor, twin: torch.Tensor, gain: float = 4.0,
                **group_kw) -> np.ndarray:
    """One row per crop: rainy | streak light (x ``gain``) | its pixels, rain green and
    texture red | each model's G_B mask (black 0, white 1). The light is the first
    model's. uint8 RGB (N*H, (3 + len(models))*W, 3).

    Args:
        models: Models as :func:`mask_forces` takes (one, or a sequence).
        rainy, twin (Tensor): (N, 3, H, W) in [-1, 1].
        gain (float): Brightening of the streak light.
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    masks = []
    with torch.no_grad():
        for model in models:
            g = model.generator
            masks.append(g.thin_light_mask(g.forward_features(rainy, [g.num_layers - 1])[0]))
        light = models[0].generator.thin_light(rainy)
        groups = pixel_groups(light, rainy, twin, **group_kw)

    def rgb(t):
        return (t.permute(0, 2, 3, 1).numpy() * 255).clip(0, 255).round().astype(np.uint8)

    image = rgb((rainy + 1) / 2)
    lit = rgb((gain * light / 2).clamp(0, 1))
    where = np.zeros_like(image)
    where[groups['rain'].numpy()] = (0, 200, 0)
    where[groups['texture'].numpy()] = (220, 0, 0)
    shades = [rgb(m.expand(-1, 3, -1, -1)) for m in masks]
    rows = [np.concatenate([image[i], lit[i], where[i]] + [s[i] for s in shades], 1)
            for i in range(rainy.shape[0])]
    return np.concatenate(rows, 0)


def load_model(config: str, checkpoint: str, trust: bool = False):
    """The NLCL model of ``config`` with ``checkpoint``'s weights (a training checkpoint's
    ``state_dict`` or a bare state dict), in eval mode. The checkpoint is read
    weights-only unless ``trust`` (:func:`~nlcl_plugin.models.checkpoint.load_state_file`,
    whose errors name the file)."""
    from mmagic.registry import MODELS
    from mmengine.registry import init_default_scope

    from .. import mmagic  # noqa: F401  (registers the model)
    from ..mmagic.runner_utils import load_config
    from ..models.checkpoint import load_state_file
    init_default_scope('mmagic')
    model = MODELS.build(load_config(config).model)
    state = load_state_file(checkpoint, trust=trust)
    model.load_state_dict(state.get('state_dict', state), strict=False)
    return model.eval()


def _centre(rgb: np.ndarray, size: int):
    h, w = rgb.shape[:2]
    if h < size or w < size:
        return None
    t, l = (h - size) // 2, (w - size) // 2
    return rgb[t:t + size, l:l + size]


def folder_crops(inputs: str, targets: str, clean: str, size: int) -> List[List[np.ndarray]]:
    """Centre ``size`` crops (uint8 RGB) ``[rainy, twin, clean]`` for every image of
    ``inputs`` (file-name order) at least ``size`` pixels on each side: its twin of the
    same name in ``targets``, and the clean images of ``clean`` taken in turn."""
    from ..image_io import read_image
    names = sorted(os.listdir(inputs))
    cleans = sorted(os.listdir(clean))
    triples = []
    for i, name in enumerate(names):
        crops = [_centre(read_image(osp.join(folder, n))[0], size) for folder, n in
                 ((inputs, name), (targets, name), (clean, cleans[i % len(cleans)]))]
        if all(c is not None for c in crops):
            triples.append(crops)
    return triples


def to_tensor(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 RGB images (H, W, 3) of one size -> (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1


def summed_forces(model, triples: Sequence[Sequence[np.ndarray]], batch: int = 8,
                  seed: int = 0) -> Dict[str, Dict[str, float]]:
    """:func:`mask_forces` over :func:`folder_crops`' crops, ``batch`` at a time: per
    term, pushes summed and values averaged over the crops; the mask's means averaged
    and its pixel counts summed."""
    total: Dict[str, Dict[str, list]] = {}
    for start in range(0, len(triples), batch):
        part = triples[start:start + batch]
        res = mask_forces(model, *(to_tensor([t[j] for t in part]) for j in range(3)),
                          seed=seed)
        for term, vals in res.items():
            acc = total.setdefault(term, {})
            for key, v in vals.items():
                acc.setdefault(key, []).append((v, len(part)))

    def mean(vs):
        return sum(v * n for v, n in vs) / sum(n for _, n in vs)

    summary = {}
    for term, vals in total.items():
        if term == 'mask':
            summary[term] = {k: sum(v for v, _ in vs) if k.endswith('pixels') else mean(vs)
                             for k, vs in vals.items()}
        else:
            summary[term] = {k: mean(vs) if k == 'value' else sum(v for v, _ in vs)
                             for k, vs in vals.items()}
    return summary
