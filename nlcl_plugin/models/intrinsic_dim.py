"""Intrinsic dimension (ID) of point clouds and of non-local patch groups.

The TPAMI paper observes that non-local background patches have a higher intrinsic
dimension than rain patches (spec §4.7). These estimators let the project measure that
on B and R (the training hook logs it) and feed the ID-adaptive temperatures of
:class:`~nlcl_plugin.models.losses.LayerContrastiveLoss`.

* :func:`levina_bickel_mle`: maximum-likelihood estimator of Levina & Bickel (NeurIPS
  2004) from the k nearest neighbours, pooled over points as MacKay & Ghahramani
  suggest (average the per-point *inverse* estimates, then invert).
* :func:`two_nn`: TwoNN of Facco et al. (Sci. Rep. 2017) from the ratio of the second to
  the first neighbour distance.

Both work in float64 and drop duplicate points first (zero distances carry no scale
information).
"""
from typing import Optional

import torch

from .sampler import nonlocal_topk_batched, random_anchors

__all__ = ['ID_METHODS', 'levina_bickel_mle', 'patch_group_intrinsic_dim', 'two_nn']

ID_METHODS = ('mle', 'twonn')


def _neighbour_distances(x: torch.Tensor, k: int) -> torch.Tensor:
    """Sorted distances to the k nearest other points, (N', k), duplicates removed."""
    if x.dim() != 2:
        raise ValueError(f'x must be (N, D), got shape {tuple(x.shape)}')
    x = torch.unique(x.detach().to(torch.float64), dim=0)
    if x.shape[0] <= k:
        raise ValueError(f'need more than {k} distinct points, got {x.shape[0]}')
    dist = torch.cdist(x, x)
    dist.fill_diagonal_(float('inf'))
    return torch.topk(dist, k, dim=1, largest=False, sorted=True).values


def levina_bickel_mle(x: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Levina-Bickel MLE of the intrinsic dimension, MacKay-Ghahramani pooling.

    With T_j(x_i) the distance of x_i to its j-th nearest neighbour::

        1 / m(x_i) = 1/(k-1) * sum_{j=1}^{k-1} log(T_k(x_i) / T_j(x_i))
        m = 1 / mean_i (1 / m(x_i))

    (Levina & Bickel average m(x_i) itself; averaging the inverses is unbiased for
    1/m under their Poisson model and less sensitive to outlying points.)

    Args:
        x (Tensor): (N, D) points, N > k distinct.
        k (int): Neighbours per point (>= 2).

    Returns:
        Tensor: 0-dim float64 estimate.
    """
    if k < 2:
        raise ValueError(f'k must be >= 2, got {k}')
    t = _neighbour_distances(x, k)
    inv = torch.log(t[:, -1:] / t[:, :-1]).mean(dim=1)
    return 1.0 / inv.mean()


def two_nn(x: torch.Tensor, discard_fraction: float = 0.1) -> torch.Tensor:
    """TwoNN estimate (Facco et al. 2017).

    mu_i = r_2(x_i) / r_1(x_i) follows F(mu) = 1 - mu^(-d). With the mu_i sorted and the
    empirical F(mu_(i)) = i / N, d is the least-squares slope through the origin of
    -log(1 - F) against log(mu), fitted on all but the largest ``discard_fraction`` of
    the mu_i (as in the paper).

    Args:
        x (Tensor): (N, D) points, N >= 3 distinct.
        discard_fraction (float): Fraction of the largest ratios left out, in [0, 1).

    Returns:
        Tensor: 0-dim float64 estimate.
    """
    if not 0.0 <= discard_fraction < 1.0:
        raise ValueError(f'discard_fraction must be in [0, 1), got {discard_fraction}')
    t = _neighbour_distances(x, 2)
    mu = torch.sort(t[:, 1] / t[:, 0]).values
    n = mu.numel()
    keep = max(2, int(round(n * (1.0 - discard_fraction))))
    keep = min(keep, n - 1)  # F = 1 at i = N would give log(0)
    f = torch.arange(1, keep + 1, dtype=torch.float64, device=mu.device) / n
    xs = torch.log(mu[:keep])
    ys = -torch.log1p(-f)
    return (xs * ys).sum() / xs.square().sum()


def patch_group_intrinsic_dim(image: torch.Tensor,
                              k_patches: int = 128,
                              patch_size: int = 16,
                              search_size: int = 40,
                              method: str = 'mle',
                              generator: Optional[torch.Generator] = None,
                              k_neighbors: int = 10) -> torch.Tensor:
    """Intrinsic dimension of a non-local patch group drawn from each image.

    One anchor per image is drawn with :func:`~nlcl_plugin.models.sampler.random_anchors`
    and its ``k_patches`` nearest window patches are found with
    :func:`~nlcl_plugin.models.sampler.nonlocal_topk_batched` (the layer loss's groups);
    the group's flattened C x p x p patches are the points whose ID is estimated.
    Deterministic given ``generator``.

    Args:
        image (Tensor): (C, H, W) or (N, C, H, W), H, W >= patch_size.
        k_patches (int): Patches per group (> ``k_neighbors`` for 'mle').
        patch_size (int): Patch side p (16).
        search_size (int): Window side s (40).
        method (str): 'mle' (:func:`levina_bickel_mle`) or 'twonn' (:func:`two_nn`).
        generator (torch.Generator, optional): Random source of the anchors.
        k_neighbors (int): Neighbours of the MLE.

    Returns:
        Tensor: float64, 0-dim for a (C, H, W) input, else (N,); NaN for a group with
        too few distinct patches (e.g. a constant image), so a logging hook never fails.
    """
    if method not in ID_METHODS:
        raise ValueError(f'patch_group_intrinsic_dim method must be one of {ID_METHODS}, '
                         f'got {method!r}')
    single = image.dim() == 3
    images = image[None] if single else image
    if images.dim() != 4:
        raise ValueError(f'image must be (C, H, W) or (N, C, H, W), got {tuple(image.shape)}')
    n, _, h, w = images.shape
    images = images.detach()
    anchors = random_anchors(n, h, w, patch_size, generator, images.device)
    locs = nonlocal_topk_batched(images, anchors, k_patches, patch_size, search_size)
    top = patch_size // 2
    ar = torch.arange(patch_size, device=images.device)
    rows = (locs[..., 0] - top)[..., None] + ar  # (N, k, p)
    cols = (locs[..., 1] - top)[..., None] + ar
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    patches = images[batch, :, rows[..., :, None], cols[..., None, :]]  # (N, k, p, p, C)
    points = patches.reshape(n, k_patches, -1)
    needed = k_neighbors + 1 if method == 'mle' else 3
    ids = []
    for group in points:
        if torch.unique(group, dim=0).shape[0] < needed:
            ids.append(torch.tensor(float('nan'), dtype=torch.float64, device=group.device))
        elif method == 'mle':
            ids.append(levina_bickel_mle(group, k_neighbors))
        else:
            ids.append(two_nn(group))
    out = torch.stack(ids)
    return out[0] if single else out
