"""Non-local patch sampler: self-similar patch groups for NLCL's contrastive losses.

For each image an anchor centre is drawn at random; the ``k`` patches of its search
window that are nearest to the anchor patch (L2 over all C x p x p values) form a
non-local, self-similar group (spec ``nlcl-method.md`` §3.1). The group's centres are
then mapped onto every tapped feature level, where the single feature vector at the
mapped location is gathered, projected by that level's MLP head and L2-normalised.

Conventions (p = ``patch_size``, s = ``search_size``, ``top = p // 2``,
``bottom = p - top``; for the official p = 16, s = 40 both halves are 8):

* the patch of centre (h, w) is ``image[:, h - top : h + bottom, w - top : w + bottom]``
  ("top-left = centre - p/2"); valid centres are ``top <= h <= H - bottom``;
* the candidate window of an anchor c is, per axis, the centres
  ``[max(c - s//2, top), min(c + s - s//2, H - bottom))`` with stride 1.

For even p and s this is exactly the released code's window (start ``top`` if
``c - s/2 - p/2 < 0`` else ``c - s/2``; end ``H - p/2`` if ``c + s/2 + p/2 > H`` else
``c + s/2``) for every anchor the code can draw. It is one pixel asymmetric (c - s/2 ...
c + s/2 - 1) and never contains the last valid centre ``H - bottom``. One extension:
the end is raised to ``c + 1`` when it would not contain the anchor; this only happens
for anchors at ``H - bottom``, which the released anchor range never draws but small
images (< 2p) can, and it keeps the anchor a candidate (e.g. for H = p).

Search cost: the window's squared distances come from one float64 FFT correlation and a
box filter (||P_c||^2 + ||P_a||^2 - 2 P_c.P_a), about 1-2 ms per 256x256 search on CPU.
Candidates whose approximate distance lies within the error bound of a neighbour's, and
that can decide the top-k, are recomputed exactly (float64 sum of squared differences),
so the result equals a direct float64 evaluation, ties included.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .heads import ProjectionHeads

__all__ = [
    'SAMPLING_MODES', 'NonLocalPatchSampler', 'check_sampler_config', 'gather_vectors',
    'map_locations', 'nonlocal_topk', 'nonlocal_topk_batched', 'random_anchors',
    'random_locations'
]

SAMPLING_MODES = ('nonlocal_similar', 'nonlocal_dissimilar', 'random')

# Elements of one float64 chunk of patches during exact recomputation (32 MiB).
_EXACT_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- geometry
def _halves(patch_size: int) -> Tuple[int, int]:
    """(top, bottom): rows of a patch above / at-or-below its centre."""
    return patch_size // 2, patch_size - patch_size // 2


def _check_sizes(height: int, width: int, patch_size: int, search_size: int = 2) -> None:
    if patch_size < 1:
        raise ValueError(f'patch_size must be >= 1, got {patch_size}')
    if search_size < 1:
        raise ValueError(f'search_size must be >= 1, got {search_size}')
    if height < patch_size or width < patch_size:
        raise ValueError(f'image of size {height}x{width} is smaller than patch_size '
                         f'{patch_size}')


def _window(c: torch.Tensor, size: int, patch_size: int,
            search_size: Union[int, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Candidate centres [lo, hi) along one axis for anchors ``c`` (integer tensors)."""
    top, bottom = _halves(patch_size)
    half = search_size // 2
    lo = torch.clamp(c - half, min=top)
    hi = torch.minimum(c + (search_size - half), torch.full_like(c, size - bottom))
    return lo, torch.maximum(hi, c + 1)


def _anchor_range(size: int, patch_size: int) -> Tuple[int, int]:
    """Inclusive range of anchor centres along one axis (see :func:`random_anchors`)."""
    if size >= 2 * patch_size:
        return patch_size, size - patch_size
    top, bottom = _halves(patch_size)
    return top, size - bottom


def _max_candidates(size: int, patch_size: int, c: torch.Tensor) -> torch.Tensor:
    """Candidates along one axis when the window covers the whole axis."""
    top, bottom = _halves(patch_size)
    return (size - bottom - top) + (c == size - bottom).long()


def check_sampler_config(num_patches: int, patch_size: int = 16, search_size: int = 40,
                         crop_size: Union[int, Sequence[int]] = 256) -> int:
    """Check that every anchor's window holds ``num_patches`` candidates at ``crop_size``.

    The smallest window is the one of a corner anchor (28 x 28 = 784 candidates for
    the official 16 / 40 / 256). Inputs whose windows are too small at run time are not
    an error (:func:`nonlocal_topk_batched` widens the window), but a training
    configuration should not rely on that.

    Args:
        num_patches (int): Group size k.
        patch_size (int): Patch side p.
        search_size (int): Window side s.
        crop_size (int | Sequence[int]): Training crop (H, W) of the searched map.

    Returns:
        int: Candidates in the smallest window.

    Raises:
        ValueError: ``num_patches`` exceeds the smallest window (the message names the
            smallest window, and the smallest crop and search sizes that would do).
    """
    h, w = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
    if num_patches < 1:
        raise ValueError(f'num_patches must be >= 1, got {num_patches}')
    _check_sizes(h, w, patch_size, search_size)

    def smallest(hh: int, ww: int, ss: int) -> int:
        counts = []
        for size in (hh, ww):
            lo_a, hi_a = _anchor_range(size, patch_size)
            c = torch.arange(lo_a, hi_a + 1)
            lo, hi = _window(c, size, patch_size, ss)
            counts.append(int((hi - lo).min()))
        return counts[0] * counts[1]

    found = smallest(h, w, search_size)
    if num_patches > found:
        # The smallest window stops growing once the crop exceeds 2 (p + s).
        crop = next((n for n in range(max(h, w), max(h, w) + 2 * (patch_size + search_size) + 2)
                     if smallest(n, n, search_size) >= num_patches), None)
        search = next((s for s in range(search_size, 2 * max(h, w) + 3, 2)
                       if smallest(h, w, s) >= num_patches), None)
        hints = []
        if crop is not None:
            hints.append(f'a crop of at least {crop}x{crop}')
        if search is not None:
            hints.append(f'search_size >= {search}')
        raise ValueError(
            f'num_patches={num_patches} exceeds the smallest search window at crop size '
            f'{h}x{w} (patch_size={patch_size}, search_size={search_size}): a corner '
            f'anchor has only {found} candidates; use num_patches <= {found}'
            + (', or ' + ' or '.join(hints) if hints else ''))
    return found


# --------------------------------------------------------------------------- anchors
def _generator_device(generator: Optional[torch.Generator]) -> torch.device:
    return generator.device if generator is not None else torch.device('cpu')


def random_anchors(n: int,
                   height: int,
                   width: int,
                   patch_size: int = 16,
                   generator: Optional[torch.Generator] = None,
                   device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """Draw ``n`` anchor centres, uniformly and independently per axis.

    The released range is c ~ U{p, ..., H - p} (inclusive). Axes shorter than 2p fall
    back to all valid centres U{p//2, ..., H - (p - p//2)}.

    Args:
        n (int): Number of anchors (one per sample).
        height (int): H of the searched map, >= patch_size.
        width (int): W of the searched map, >= patch_size.
        patch_size (int): Patch side p.
        generator (torch.Generator, optional): Random source (drawn on its device).
        device (str | torch.device, optional): Device of the result (default: the
            generator's, else CPU).

    Returns:
        LongTensor: (n, 2) centres (h, w).
    """
    _check_sizes(height, width, patch_size)
    gdev = _generator_device(generator)
    coords = []
    for size in (height, width):
        lo, hi = _anchor_range(size, patch_size)
        coords.append(torch.randint(lo, hi + 1, (n,), generator=generator, device=gdev))
    out = torch.stack(coords, dim=1)
    return out.to(device) if device is not None else out


def random_locations(anchors: torch.Tensor,
                     k: int,
                     height: int,
                     width: int,
                     patch_size: int = 16,
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """CUT-style random locations: the anchor, then k - 1 distinct random valid centres.

    Args:
        anchors (LongTensor): (N, 2) anchor centres.
        k (int): Locations per sample.
        height (int): H of the map.
        width (int): W of the map.
        patch_size (int): Patch side p (valid centres keep the patch inside the map).
        generator (torch.Generator, optional): Random source.

    Returns:
        LongTensor: (N, k, 2) on ``anchors``' device; distinct per sample, anchor first,
        the others in random order.
    """
    _check_sizes(height, width, patch_size)
    top, bottom = _halves(patch_size)
    vh, vw = height - patch_size + 1, width - patch_size + 1
    if k > vh * vw:
        raise ValueError(f'k={k} exceeds the {vh * vw} valid centres of a {height}x{width} '
                         f'map (patch_size={patch_size})')
    n = anchors.shape[0]
    scores = torch.rand(n, vh * vw, generator=generator,
                        device=_generator_device(generator)).to(anchors.device)
    a_flat = (anchors[:, 0] - top) * vw + (anchors[:, 1] - top)
    scores.scatter_(1, a_flat[:, None], -1.0)
    idx = torch.topk(scores, k, dim=1, largest=False, sorted=True).indices
    return torch.stack([idx // vw + top, idx % vw + top], dim=-1)


# --------------------------------------------------------------------------- search
def _fast_size(n: int) -> int:
    """Smallest 2,3,5-smooth integer >= n (a fast FFT length)."""
    while True:
        m = n
        for f in (2, 3, 5):
            while m % f == 0:
                m //= f
        if m == 1:
            return n
        n += 1


def _grow_search(ch: torch.Tensor, cw: torch.Tensor, height: int, width: int, k: int,
                 patch_size: int, search_size: int) -> torch.Tensor:
    """Per-sample search size: ``search_size``, widened in steps of 2 until >= k fit."""
    n = ch.shape[0]
    lo_h, hi_h = _window(ch, height, patch_size, search_size)
    lo_w, hi_w = _window(cw, width, patch_size, search_size)
    counts = (hi_h - lo_h) * (hi_w - lo_w)
    sizes = torch.full((n,), search_size, dtype=torch.long)
    if bool((counts >= k).all()):
        return sizes
    most = _max_candidates(height, patch_size, ch) * _max_candidates(width, patch_size, cw)
    if bool((most < k).any()):
        raise ValueError(
            f'k={k} exceeds the {int(most.min())} candidate centres of a {height}x{width} '
            f'map (patch_size={patch_size}); use fewer patches or a larger image')
    steps = torch.arange(search_size, 2 * max(height, width) + search_size % 2 + 3, 2)
    lo_h, hi_h = _window(ch[:, None], height, patch_size, steps[None])
    lo_w, hi_w = _window(cw[:, None], width, patch_size, steps[None])
    enough = (hi_h - lo_h) * (hi_w - lo_w) >= k  # (n, steps), monotone in the step
    first = enough.long().argmax(dim=1)
    return steps[first]


def _gather_boxes(images: torch.Tensor, rows0: torch.Tensor, cols0: torch.Tensor,
                  box_h: int, box_w: int) -> torch.Tensor:
    """images[n, :, rows0[n] : rows0[n] + box_h, cols0[n] : cols0[n] + box_w] stacked.

    Returns:
        Tensor: (N, C, box_h, box_w), contiguous.
    """
    dev = images.device
    n, c, _, width = images.shape
    rows = rows0.to(dev)[:, None] + torch.arange(box_h, device=dev)
    cols = cols0.to(dev)[:, None] + torch.arange(box_w, device=dev)
    flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(n, 1, box_h * box_w)
    out = images.reshape(n, c, -1).gather(2, flat.expand(n, c, -1))
    return out.reshape(n, c, box_h, box_w)


def _window_sq_distances(region: torch.Tensor, anchor: torch.Tensor, box_h: int,
                         box_w: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Approximate squared distances of all box candidates to the anchor, and a bound.

    Args:
        region (Tensor): (N, C, box_h + p - 1, box_w + p - 1) float64.
        anchor (Tensor): (N, C, p, p) float64.

    Returns:
        (Tensor, Tensor): distances (N, box_h, box_w) and per-sample absolute error
        bounds (N,).
    """
    n, c, rh, rw = region.shape
    p = anchor.shape[-1]
    fh, fw = _fast_size(rh), _fast_size(rw)
    # rfft2 of the zero-padded anchor, rows first: only its p non-zero rows are transformed.
    fa = torch.fft.fft(torch.fft.rfft(anchor, n=fw, dim=-1), n=fh, dim=-2)
    spec = (torch.fft.rfft2(region, s=(fh, fw)) * fa.conj()).sum(dim=1)
    corr = torch.fft.irfft2(spec, s=(fh, fw))[:, :box_h, :box_w]
    sq = region.square().sum(dim=1)
    ii = torch.nn.functional.pad(sq.cumsum(1).cumsum(2), (1, 0, 1, 0))
    box = (ii[:, p:p + box_h, p:p + box_w] - ii[:, :box_h, p:p + box_w] -
           ii[:, p:p + box_h, :box_w] + ii[:, :box_h, :box_w])
    a2 = anchor.square().sum(dim=(1, 2, 3))
    dist = box + a2[:, None, None] - 2.0 * corr
    # Rounding of the cumulative sums (<= rh + rw additions), the channel sum, the FFT
    # (O(log n) per output, relative to the norms) and of the exact recomputation (C p^2
    # terms), with a safety factor.
    unit = torch.finfo(torch.float64).eps
    terms = rh + rw + c * (p * p + 1) + 4 * (fh * fw).bit_length() + 8
    bound = 8.0 * unit * terms * (sq.sum(dim=(1, 2)) + a2)
    return dist, bound


def _exact_sq_distances(region: torch.Tensor, anchor: torch.Tensor, n_idx: torch.Tensor,
                        rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Direct float64 sum of squared differences for the listed candidates.

    Args:
        region (Tensor): (N, C, R_h, R_w) float64; anchor (Tensor): (N, C, p, p).
        n_idx, rows, cols (LongTensor): (T,) sample and top-left offsets in ``region``.

    Returns:
        Tensor: (T,) squared distances; identical patches give bitwise-equal values.
    """
    p = anchor.shape[-1]
    c = anchor.shape[1]
    dev = region.device
    ar = torch.arange(p, device=dev)
    out = []
    chunk = max(1, _EXACT_CHUNK_ELEMENTS // (c * p * p))
    for s in range(0, n_idx.numel(), chunk):
        bi, rr, cc = n_idx[s:s + chunk], rows[s:s + chunk], cols[s:s + chunk]
        patches = region[bi[:, None, None], :, (rr[:, None] + ar)[:, :, None],
                         (cc[:, None] + ar)[:, None, :]]  # (t, p, p, C)
        diff = patches - anchor[bi].permute(0, 2, 3, 1)
        out.append(diff.square().reshape(diff.shape[0], -1).sum(dim=1))
    return torch.cat(out)


@torch.no_grad()
def nonlocal_topk_batched(images: torch.Tensor,
                          centers: torch.Tensor,
                          k: int,
                          patch_size: int = 16,
                          search_size: int = 40,
                          largest: bool = False) -> torch.Tensor:
    """Non-local search for one anchor per sample, vectorised over samples and candidates.

    Candidates are the centres of the anchor's window (module docstring); distance is the
    L2 norm over all C x p x p values of the two patches. Order: the anchor first, then
    the other candidates by distance (ascending, or descending with ``largest``), equal
    distances by raster index (h * W + w) of the candidate. With ``largest=False`` this
    is "nearest first" (the anchor has distance 0), which is the released behaviour
    except that ties are ordered deterministically.

    If a sample's window holds fewer than k candidates (maps smaller than the training
    crop), that sample's window is widened symmetrically, 2 pixels at a time, until it
    holds k; samples whose window is large enough are unaffected.

    Args:
        images (Tensor): (N, C, H, W), any float dtype and device; H, W >= patch_size.
        centers (LongTensor): (N, 2) anchor centres (h, w), each a valid centre
            (``p//2 <= h <= H - (p - p//2)``, same for w).
        k (int): Group size, including the anchor.
        patch_size (int): Patch side p (16).
        search_size (int): Window side s (40).
        largest (bool): Return the anchor and the k - 1 *most* dissimilar candidates.

    Returns:
        LongTensor: (N, k, 2) centres (h, w) on ``images``' device.

    Raises:
        ValueError: Bad sizes or anchors, or k larger than the number of candidate
            centres in the whole map.
    """
    if images.dim() != 4:
        raise ValueError(f'images must be (N, C, H, W), got shape {tuple(images.shape)}')
    n, _, height, width = images.shape
    _check_sizes(height, width, patch_size, search_size)
    if centers.shape != (n, 2):
        raise ValueError(f'centers must be ({n}, 2), got {tuple(centers.shape)}')
    if k < 1:
        raise ValueError(f'k must be >= 1, got {k}')
    dev = images.device
    top, bottom = _halves(patch_size)
    cen = centers.detach().to('cpu', torch.long)
    ch, cw = cen[:, 0], cen[:, 1]
    if bool(((ch < top) | (ch > height - bottom) | (cw < top) | (cw > width - bottom)).any()):
        raise ValueError(f'anchor centres {cen.tolist()} are not valid centres of a '
                         f'{height}x{width} map with patch_size={patch_size}')
    if k == 1 or n == 0:
        return cen.to(dev)[:, None, :].expand(n, k, 2).clone()

    sizes = _grow_search(ch, cw, height, width, k, patch_size, search_size)
    lo_h, hi_h = _window(ch, height, patch_size, sizes)
    lo_w, hi_w = _window(cw, width, patch_size, sizes)
    box_h, box_w = int((hi_h - lo_h).max()), int((hi_w - lo_w).max())
    b_h = torch.minimum(lo_h, torch.full_like(lo_h, height - bottom + 1 - box_h))
    b_w = torch.minimum(lo_w, torch.full_like(lo_w, width - bottom + 1 - box_w))

    region = _gather_boxes(images.detach(), b_h - top, b_w - top, box_h + patch_size - 1,
                           box_w + patch_size - 1).to(torch.float64)
    anchor = _gather_boxes(images.detach(), ch - top, cw - top, patch_size,
                           patch_size).to(torch.float64)
    dist, bound = _window_sq_distances(region, anchor, box_h, box_w)

    # Keys in raster order of the box: anchor -inf (always first), outside window +inf.
    to = dict(device=dev)
    ih = b_h.to(dev)[:, None] + torch.arange(box_h, **to)
    iw = b_w.to(dev)[:, None] + torch.arange(box_w, **to)
    inside = (((ih >= lo_h.to(dev)[:, None]) & (ih < hi_h.to(dev)[:, None]))[:, :, None] &
              ((iw >= lo_w.to(dev)[:, None]) & (iw < hi_w.to(dev)[:, None]))[:, None, :])
    is_anchor = (ih == ch.to(dev)[:, None])[:, :, None] & (iw == cw.to(dev)[:, None])[:, None, :]
    sign = -1.0 if largest else 1.0
    keys = (sign * dist).masked_fill(~inside, float('inf')).masked_fill(is_anchor, float('-inf'))
    keys = keys.reshape(n, -1)
    sorted_keys, order = torch.sort(keys, dim=1, stable=True)

    # Near-ties (within twice the error bound) that can decide the top k: recompute.
    tol = 2.0 * bound.to(dev)[:, None]
    close = torch.diff(sorted_keys, dim=1) <= tol
    near = torch.zeros_like(sorted_keys, dtype=torch.bool)
    near[:, 1:] |= close
    near[:, :-1] |= close
    near &= sorted_keys <= sorted_keys[:, k - 1:k] + tol
    if bool(near.any()):
        s_idx, pos = near.nonzero(as_tuple=True)
        flat = order[s_idx, pos]
        exact = _exact_sq_distances(region, anchor, s_idx, flat // box_w, flat % box_w)
        keys[s_idx, flat] = sign * exact
        order = torch.sort(keys, dim=1, stable=True).indices

    pick = order[:, :k]
    return torch.stack([b_h.to(dev)[:, None] + pick // box_w, b_w.to(dev)[:, None] + pick % box_w],
                       dim=-1)


def nonlocal_topk(image: torch.Tensor,
                  center: Union[Sequence[int], torch.Tensor],
                  k: int,
                  patch_size: int = 16,
                  search_size: int = 40) -> torch.Tensor:
    """The k candidate patches nearest to the anchor patch at ``center``.

    Single-image form of :func:`nonlocal_topk_batched` (same window, order and tie
    rule: the anchor first, then ascending distance, ties by raster index).

    Args:
        image (Tensor): (C, H, W).
        center (Sequence[int] | LongTensor): Anchor centre (h, w).
        k (int): Group size, including the anchor.
        patch_size (int): Patch side p (16).
        search_size (int): Window side s (40).

    Returns:
        LongTensor: (k, 2) centres (h, w), nearest first.
    """
    if image.dim() != 3:
        raise ValueError(f'image must be (C, H, W), got shape {tuple(image.shape)}')
    c = torch.as_tensor(center, dtype=torch.long).reshape(1, 2)
    return nonlocal_topk_batched(image[None], c, k, patch_size, search_size)[0]


# --------------------------------------------------------------------------- gathering
def map_locations(locs: torch.Tensor, src_hw: Sequence[int],
                  dst_hw: Sequence[int]) -> torch.Tensor:
    """Map centres from a (H_0, W_0) grid onto a (H_l, W_l) grid.

    (h, w) -> (floor(h * H_l / H_0), floor(w * W_l / W_0)), clamped to the map. At
    256 x 256 this equals the released mapping floor(h * H_l / 256), which divides by
    256 whatever the size and uses H_l for both axes.

    Args:
        locs (LongTensor): (..., 2) centres in the source grid.
        src_hw (Sequence[int]): (H_0, W_0).
        dst_hw (Sequence[int]): (H_l, W_l).

    Returns:
        LongTensor: (..., 2) centres in the destination grid.
    """
    h0, w0 = int(src_hw[0]), int(src_hw[1])
    hl, wl = int(dst_hw[0]), int(dst_hw[1])
    locs = locs.long()
    r = torch.clamp(locs[..., 0] * hl // h0, 0, hl - 1)
    q = torch.clamp(locs[..., 1] * wl // w0, 0, wl - 1)
    return torch.stack([r, q], dim=-1)


def gather_vectors(feat: torch.Tensor, locs: torch.Tensor,
                   src_hw: Sequence[int]) -> torch.Tensor:
    """The single feature vector at each mapped location (no pooling).

    Args:
        feat (Tensor): (N, C, H_l, W_l).
        locs (LongTensor): (N, k, 2) centres in the (H_0, W_0) grid.
        src_hw (Sequence[int]): (H_0, W_0).

    Returns:
        Tensor: (N, k, C), differentiable w.r.t. ``feat``.
    """
    if locs.dim() != 3 or locs.shape[0] != feat.shape[0] or locs.shape[-1] != 2:
        raise ValueError(f'locs must be ({feat.shape[0]}, k, 2), got {tuple(locs.shape)}')
    mapped = map_locations(locs.to(feat.device), src_hw, feat.shape[-2:])
    batch = torch.arange(feat.shape[0], device=feat.device)[:, None]
    n, c, h, w = feat.shape
    pixels = feat.permute(0, 2, 3, 1)
    if c > 1 and pixels.is_contiguous():
        # channels-last map: index its (N, H*W, C) view, so that the gradient is built
        # in the map's own layout (indexing the NCHW view builds an NCHW gradient, which
        # the layers below then copy back to channels-last)
        return pixels.view(n, h * w, c)[batch, mapped[..., 0] * w + mapped[..., 1]]
    return feat[batch, :, mapped[..., 0], mapped[..., 1]]


# --------------------------------------------------------------------------- module
class NonLocalPatchSampler(nn.Module):
    """Draws a patch group per image and embeds it at every feature level.

    Modes (``mode``):

    * ``'nonlocal_similar'`` (released code, default): the anchor and its k - 1 nearest
      window candidates.
    * ``'nonlocal_dissimilar'`` (the framework figure's "reverse non-local sampling"):
      the anchor first, then the k - 1 most dissimilar candidates of its window, so the
      anchor's query meets only dissimilar negatives.
    * ``'random'`` (CUT): the anchor and k - 1 distinct random valid centres of the whole
      map.

    A new anchor per sample is drawn at every call (torch RNG, ``generator``). Maps whose
    windows hold fewer than k candidates get a widened window (see
    :func:`nonlocal_topk_batched`); use :func:`check_sampler_config` to validate a
    training crop.

    Args:
        in_channels (Sequence[int]): C_l of each feature level.
        num_patches (int): Group size k (anchor included).
        patch_size (int): Patch side p (16).
        search_size (int): Window side s (40).
        mode (str): One of :data:`SAMPLING_MODES`.
        embed_channels (int): Embedding size D (256).

    Shapes:
        forward: feats list of (N, C_l, H_l, W_l) -> (list of (N, k, D) unit vectors,
        (N, k, 2) locations in the search map's grid).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 num_patches: int,
                 patch_size: int = 16,
                 search_size: int = 40,
                 mode: str = 'nonlocal_similar',
                 embed_channels: int = 256):
        super().__init__()
        if mode not in SAMPLING_MODES:
            raise ValueError(f'NonLocalPatchSampler mode must be one of {SAMPLING_MODES}, '
                             f'got {mode!r}')
        if num_patches < 1:
            raise ValueError(f'num_patches must be >= 1, got {num_patches}')
        if patch_size < 1 or search_size < 1:
            raise ValueError(f'patch_size and search_size must be >= 1, got {patch_size}, '
                             f'{search_size}')
        self.num_patches = int(num_patches)
        self.patch_size = int(patch_size)
        self.search_size = int(search_size)
        self.mode = mode
        self.heads = ProjectionHeads(in_channels, embed_channels)

    def extra_repr(self) -> str:
        return (f'num_patches={self.num_patches}, patch_size={self.patch_size}, '
                f'search_size={self.search_size}, mode={self.mode!r}')

    def sample_locations(self, search_map: torch.Tensor,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Draw anchors and search, per the mode.

        Args:
            search_map (Tensor): (N, C, H, W), H, W >= patch_size.
            generator (torch.Generator, optional): Random source of the anchors (and of
                the locations in 'random' mode).

        Returns:
            LongTensor: (N, num_patches, 2) centres in ``search_map``'s grid.
        """
        if search_map.dim() != 4:
            raise ValueError(f'search_map must be (N, C, H, W), got {tuple(search_map.shape)}')
        n, _, h, w = search_map.shape
        anchors = random_anchors(n, h, w, self.patch_size, generator, search_map.device)
        if self.mode == 'random':
            return random_locations(anchors, self.num_patches, h, w, self.patch_size, generator)
        return nonlocal_topk_batched(search_map, anchors, self.num_patches, self.patch_size,
                                     self.search_size,
                                     largest=self.mode == 'nonlocal_dissimilar')

    def forward(self,
                feats: Sequence[torch.Tensor],
                search_map: Optional[torch.Tensor] = None,
                locations: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None
                ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """Embed a (new or given) patch group at every level.

        Args:
            feats (Sequence[Tensor]): One (N, C_l, H_l, W_l) map per head.
            search_map (Tensor, optional): (N, C, H, W) map searched for the group
                (default ``feats[0]``); its size is the locations' grid.
            locations (LongTensor, optional): (N, k, 2) locations to reuse, in the grid
                of ``search_map`` (or ``feats[0]``); no search is run.
            generator (torch.Generator, optional): Random source for a new group.

        Returns:
            (list[Tensor], LongTensor): (N, k, D) L2-normalised embeddings per level and
            the (N, k, 2) locations used.
        """
        if len(feats) == 0:
            raise ValueError('feats must hold at least one feature map')
        ref = feats[0] if search_map is None else search_map
        n = ref.shape[0]
        if any(f.dim() != 4 or f.shape[0] != n for f in feats):
            raise ValueError(f'every feature map must be (N={n}, C, H, W), got '
                             f'{[tuple(f.shape) for f in feats]}')
        src_hw = tuple(ref.shape[-2:])
        if locations is None:
            locations = self.sample_locations(ref, generator)
        vectors = [gather_vectors(f, locations, src_hw) for f in feats]
        return self.heads(vectors), locations


def iteration_rng(step: int, rank: int = 0) -> torch.Generator:
    """The samplers' random generator for training step ``step`` (0-based) on ``rank``.

    Seeded from the run's seed (``torch.initial_seed()``, set by the host from its
    config), the step and the rank, so a step's anchors do not depend on what drew random
    numbers before it: a resumed run draws what the uninterrupted run would have drawn.
    """
    seed = torch.initial_seed() * 1000003 + int(step) * 7919 + int(rank)
    return torch.Generator().manual_seed(seed % (2**63))
