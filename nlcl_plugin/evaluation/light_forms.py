"""What a light form of G_B can take away at best: bounds from the rain-free twins.

G_B with ``thin_light_size`` removes a share ``m`` (0..1, one per pixel, shared by the
colour channels) of a fixed light ``L(O)`` of its input: the thin light ``T_k(O)``
(:func:`~nlcl_plugin.models.thin_light.white_top_hat`) or the streak light
``S_{k,L}(O)`` (:func:`~nlcl_plugin.models.streak_light.streak_light`), restored or not
(:func:`~nlcl_plugin.models.streak_light.restored_streak_light`). Before any
training, the rain-free twin B of a rainy crop O says how much of the rain such a form
can hold:

* the **fixed filter**, ``m = 1`` everywhere: ``O - L(O)``;
* the **best mask**, the share that fits the rain error ``E = O - B`` best in least
  squares over the channels at each pixel, ``m* = clip(<E, L> / <L, L>, 0, 1)``: no
  training of any objective can take more of the streak layer with that form than
  ``O - m* L(O)`` does (up to the light the rest of G_B removes).

:func:`form_bounds` scores both with the error bands' measures (PSNR/SSIM on Y, the share
of the streak layer taken away, the detail- and base-band error removed) per image and per
rain kind. ``tools/light_forms.py`` is the command line.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch

__all__ = ['parse_form', 'form_light', 'best_mask', 'form_bounds']

#: Scores of each image under each variant (keys of :func:`form_bounds`'s rows).
SCORES = ('psnr', 'ssim', 'detail_projection', 'detail_removed', 'base_removed')


def parse_form(text: str) -> Dict[str, int]:
    """``'thin:K'`` -> thin light of square K; ``'streak:K:L'`` -> streak light of square
    K and line L; ``'streak:K:L:N'`` -> the same restored over N steps (:func:`form_light`'s
    keywords)."""
    parts = text.split(':')
    try:
        if parts[0] == 'thin' and len(parts) == 2:
            return dict(size=int(parts[1]), length=0, restore=0)
        if parts[0] == 'streak' and len(parts) in (3, 4):
            return dict(size=int(parts[1]), length=int(parts[2]),
                        restore=int(parts[3]) if len(parts) == 4 else 0)
    except ValueError:
        pass
    raise ValueError(f"a light form is 'thin:K', 'streak:K:L' or 'streak:K:L:N' (K and L odd, "
                     f"N the restoring steps), got {text!r}")


def form_light(x: torch.Tensor, size: int, length: int = 0, restore: int = 0) -> torch.Tensor:
    """The light the mask takes a share of: ``T_size(x)``, or ``S_{size,length}(x)`` when
    ``length`` is set, restored over ``restore`` steps when that is set (as
    :meth:`DecompositionGenerator.thin_light` computes it). (N, C, H, W) -> (N, C, H, W)."""
    from ..models.streak_light import streak_light
    from ..models.thin_light import white_top_hat
    if restore and not length:
        raise ValueError('restoring needs the streak light (a line length)')
    if length:
        return streak_light(x, size, length, restore=restore)
    return white_top_hat(x, size)


def best_mask(rainy: torch.Tensor, clean: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """``m* = clip(<O - B, L> / <L, L>, 0, 1)`` over the channels at each pixel (0 where
    ``L = 0``): the share of ``L`` whose removal brings O closest to B in squared error.
    (N, C, H, W) x 3 -> (N, 1, H, W)."""
    num = ((rainy - clean) * light).sum(1, keepdim=True)
    den = (light * light).sum(1, keepdim=True)
    share = torch.where(den > 0, num / den.clamp(min=1e-12), torch.zeros_like(num))
    return share.clamp(0.0, 1.0)


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].double() / 255.0


def _to_image(t: torch.Tensor) -> np.ndarray:
    return (t[0].permute(1, 2, 0).numpy() * 255.0).clip(0, 255).round().astype(np.uint8)


def form_bounds(inputs: str, targets: str, forms: Sequence[str],
                sigma: float = 3.0) -> Dict[str, object]:
    """Fixed filter and best mask of each light form on a paired folder.

    Args:
        inputs (str): Folder of rainy images O.
        targets (str): Folder of their rain-free twins B, same file names.
        forms (Sequence[str]): Light forms, as :func:`parse_form` reads them.
        sigma (float): Blur of the error bands' split.

    Returns:
        dict: ``names`` (the images), ``kinds`` (image -> rain kind, from a demo
        manifest; may be empty), ``input`` (the input's own scores) and ``forms``:
        form -> {``'fixed'``/``'best'``: {``'mean'``: score -> mean, ``'per_kind'``:
        kind -> score -> mean, ``'per_image'``: score -> list}}.

    Raises:
        FileNotFoundError: ``inputs`` has no image, or a twin is missing.
    """
    from ..image_io import read_image
    from .error_bands import band_removal
    from .metrics import y_metrics
    from .per_kind import kinds_of_folder, per_kind_means
    parsed = {f: parse_form(f) for f in forms}
    names = sorted(n for n in os.listdir(inputs) if not n.startswith('.'))
    if not names:
        raise FileNotFoundError(f'{inputs} holds no image')
    missing = [n for n in names if not osp.isfile(osp.join(targets, n))]
    if missing:
        raise FileNotFoundError(f'{targets} lacks the twins of {len(missing)} images of '
                                f'{inputs}, e.g. {missing[0]}')
    per_image: Dict[str, Dict[str, Dict[str, List[float]]]] = {
        f: {v: {s: [] for s in SCORES} for v in ('fixed', 'best')} for f in forms}
    inp = {s: [] for s in ('psnr', 'ssim')}
    for name in names:
        rainy = read_image(osp.join(inputs, name))[0]
        clean = read_image(osp.join(targets, name))[0]
        p, s = y_metrics(rainy, clean)
        inp['psnr'].append(p)
        inp['ssim'].append(s)
        x, b = _to_tensor(rainy), _to_tensor(clean)
        for form, opts in parsed.items():
            with torch.no_grad():
                light = form_light(x, **opts)
                variants = dict(fixed=x - light, best=x - best_mask(x, b, light) * light)
            for variant, out in variants.items():
                image = _to_image(out)
                scores = dict(zip(('psnr', 'ssim'), y_metrics(image, clean)))
                scores.update(band_removal(rainy, image, clean, sigma))
                for key in SCORES:
                    per_image[form][variant][key].append(float(scores[key]))
    kinds = kinds_of_folder(inputs)
    from ..data.rain_kinds import RAIN_KINDS
    result = dict(names=names, kinds={n: kinds[n] for n in names if n in kinds},
                  input={k: float(np.mean(v)) for k, v in inp.items()}, forms={})
    for form in forms:
        result['forms'][form] = {
            variant: dict(mean={k: float(np.mean(v)) for k, v in scores.items()},
                          per_kind=per_kind_means(names, scores, kinds, RAIN_KINDS),
                          per_image=scores)
            for variant, scores in per_image[form].items()}
    return result
