"""Benchmark section ``sampler``: the non-local search against a naive per-candidate loop."""
import argparse
import itertools
from typing import List, Tuple

import torch

from ..models.sampler import nonlocal_topk_batched, random_anchors
from .common import Row, register_section, time_calls


def released_window(c: int, size: int, patch_size: int = 16,
                    search_size: int = 40) -> Tuple[int, int]:
    """[start, end) of candidate centres along one axis, as in spec §3.1 step 3."""
    half, sh = patch_size // 2, search_size // 2
    start = half if c - sh - half < 0 else c - sh
    end = size - half if c + sh + half > size else c + sh
    return start, end


def naive_nonlocal_topk(image: torch.Tensor, center: Tuple[int, int], k: int,
                        patch_size: int = 16, search_size: int = 40) -> torch.Tensor:
    """Reference loop: one iteration and one growing ``torch.cat`` per candidate.

    Same window and distance as the vectorised search (spec §3.1); (C, H, W) -> (k, 2).
    """
    _, height, width = image.shape
    ch, cw = center
    half = patch_size // 2
    s_h, e_h = released_window(ch, height, patch_size, search_size)
    s_w, e_w = released_window(cw, width, patch_size, search_size)
    anchor = image[:, ch - half:ch + half, cw - half:cw + half].reshape(1, -1)
    patches = None
    locs = []
    for h in range(s_h, e_h):
        for w in range(s_w, e_w):
            patch = image[:, h - half:h + half, w - half:w + half].reshape(1, -1)
            patches = patch if patches is None else torch.cat([patches, patch], dim=0)
            locs.append((h, w))
    dist = (patches - anchor).norm(dim=1)
    idx = torch.topk(dist, k, largest=False, sorted=True).indices
    return torch.tensor(locs, device=image.device)[idx]


SAMPLER_CASES = (((1, 3, 256, 256), 8), ((1, 32, 256, 256), 256), ((1, 64, 255, 255), 128),
                 ((4, 32, 256, 256), 256))


@register_section('sampler', 'Non-local search (nonlocal_topk_batched), random maps and anchors',
                  note='ours: median (and best) of {repeats} calls; naive: the per-candidate '
                  'loop (float32) on sample 0, {naive_repeats} repetition(s); speed-up is per '
                  'sample (median); the naive cost grows with the square of its candidate '
                  'count; same top-k "set": same locations, order differs where '
                  'float32 distances nearly tie (ours is exact in float64)')
def bench_sampler(args: argparse.Namespace) -> List[Row]:
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    rows = []
    for shape, k in SAMPLER_CASES:
        n, c, h, w = shape
        images = torch.randn(shape, generator=gen).to(device)
        anchors = [random_anchors(n, h, w, 16, gen, device) for _ in range(max(args.repeats, 1))]
        it = itertools.cycle(anchors)
        ours, best = time_calls(lambda: nonlocal_topk_batched(images, next(it), k), device,
                                args.repeats, warmup=min(3, args.repeats))
        row = {'input (N,C,H,W)': 'x'.join(map(str, shape)), 'k': str(k),
               'ours/call ms': f'{ours * 1e3:.2f}', 'ours/sample ms': f'{ours / n * 1e3:.2f}',
               'best/sample ms': f'{best / n * 1e3:.2f}'}
        if args.naive_repeats > 0:
            center = tuple(int(v) for v in anchors[0][0])
            found = []
            naive, _ = time_calls(lambda: found.append(naive_nonlocal_topk(images[0], center, k)),
                                  device, args.naive_repeats)
            ref = found[-1]
            got = nonlocal_topk_batched(images[:1], anchors[0][:1], k)[0]
            if torch.equal(ref, got):
                same = 'yes'
            elif {tuple(x) for x in ref.tolist()} == {tuple(x) for x in got.tolist()}:
                same = 'set'  # order differs where float32 distances nearly tie
            else:
                same = 'NO'
            (h0, h1), (w0, w1) = released_window(center[0], h), released_window(center[1], w)
            row.update({'naive cands': str((h1 - h0) * (w1 - w0)),
                        'naive/sample ms': f'{naive * 1e3:.0f}',
                        'speed-up': f'{naive / (ours / n):.0f}x', 'same top-k': same})
        rows.append(row)
    return rows
