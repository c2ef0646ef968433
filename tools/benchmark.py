#!/usr/bin/env python
"""Micro-benchmarks of nlcl_plugin, one table per section.

Examples:
    python tools/benchmark.py --section sampler
    python tools/benchmark.py --section all --device cuda

Sections are functions registered with :func:`register_section`; each takes the parsed
command line and returns table rows (dicts from column name to text, every row with the
same columns). ``--section all`` runs every registered section in registration order.

``sampler``: time of one non-local search (:func:`nonlocal_topk_batched`) on random maps
of the training sizes, per call and per sample, next to a naive per-candidate loop (the
released implementation's approach: one Python iteration and one growing ``torch.cat``
per candidate), which is timed on one sample with ``--naive-repeats`` repetitions.
"""
import argparse
import itertools
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import nlcl_plugin  # noqa: E402,F401  (activates the compat fixes)
from nlcl_plugin.models.sampler import nonlocal_topk_batched, random_anchors  # noqa: E402

Row = Dict[str, str]
SectionFn = Callable[[argparse.Namespace], List[Row]]

#: Registered sections: name -> (title, note, function).
SECTIONS: Dict[str, Tuple[str, str, SectionFn]] = {}


def register_section(name: str, title: str, note: str = '') -> Callable[[SectionFn], SectionFn]:
    """Register ``fn(args) -> rows`` as benchmark section ``name``.

    ``title`` heads the table; ``note`` (optional) is printed below it after
    ``str.format(**vars(args))``.
    """

    def wrap(fn: SectionFn) -> SectionFn:
        if name in SECTIONS or name == 'all':
            raise ValueError(f'benchmark section {name!r} is already defined')
        SECTIONS[name] = (title, note, fn)
        return fn

    return wrap


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device, repeats: int,
               warmup: int = 0) -> Tuple[float, float]:
    """(median, best) wall time of ``fn()`` in seconds over ``repeats`` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def format_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    """Rows as a text table with aligned columns (numbers right-aligned)."""
    if not rows:
        return f'{title}\n(no rows)\n'
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}

    def numeric(text: str) -> bool:
        return text.replace('.', '', 1).replace('x', '').replace('-', '').strip().isdigit()

    def cell(c: str, text: str) -> str:
        return text.rjust(width[c]) if numeric(text) else text.ljust(width[c])

    lines = [title, '  '.join(c.ljust(width[c]) for c in cols),
             '  '.join('-' * width[c] for c in cols)]
    lines += ['  '.join(cell(c, r[c]) for c in cols) for r in rows]
    lines += list(notes)
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- sampler
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


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Micro-benchmarks of nlcl_plugin.')
    p.add_argument('--section', default='all', choices=[*SECTIONS, 'all'],
                   help='what to benchmark (default: all)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'],
                   help='device of the timed work (default: cpu)')
    p.add_argument('--repeats', type=int, default=20,
                   help='timed repetitions of the fast paths (median reported)')
    p.add_argument('--naive-repeats', type=int, default=1,
                   help='repetitions of the naive sampler loop, one sample (0: skip it)')
    p.add_argument('--seed', type=int, default=0, help='seed of the random inputs')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads for torch (default: torch\'s default)')
    args = p.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: CUDA is not available')
    if args.repeats < 1:
        p.error('--repeats must be >= 1')
    if args.threads is not None and args.threads < 1:
        p.error('--threads must be >= 1')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = list(SECTIONS) if args.section == 'all' else [args.section]
    print(f'torch {torch.__version__}, device {args.device}, '
          f'{torch.get_num_threads()} CPU threads\n')
    for name in names:
        title, note, fn = SECTIONS[name]
        rows = fn(args)
        notes = [note.format(**vars(args))] if note else []
        print(format_table(f'[{name}] {title}', rows, notes))


if __name__ == '__main__':
    main()
