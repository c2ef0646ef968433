"""Shared pieces of the benchmarks: the section registry, timing on CPU or CUDA, tables,
and the photo and weights they run on.

A benchmark section is a function ``fn(args) -> rows`` registered with
:func:`register_section`; :mod:`nlcl_plugin.benchmarks.cli` (``tools/benchmark.py``)
runs them.
"""
import argparse
import contextlib
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

import nlcl_plugin  # noqa: F401  (activates the compat fixes)

from .paths import OFFICIAL_DIR, REPO  # noqa: F401

Row = Dict[str, str]


class Table(NamedTuple):
    """One printed table: title, rows and notes (lines printed below it)."""
    title: str
    rows: List[Row]
    notes: Sequence[str] = ()


SectionFn = Callable[[argparse.Namespace], Union[List[Row], List[Table]]]

#: Registered sections: name -> (title, note, function).
SECTIONS: Dict[str, Tuple[str, str, SectionFn]] = {}


def register_section(name: str, title: str, note: str = '') -> Callable[[SectionFn], SectionFn]:
    """Register ``fn(args) -> rows`` as benchmark section ``name``.

    ``title`` heads the table; ``note`` (optional) is printed below it after
    ``str.format(**vars(args))``. ``fn`` may instead return a list of :class:`Table`,
    printed one after the other under the section's name (``note`` after the last).
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
    times = time_runs(fn, device, repeats, warmup)
    return statistics.median(times), min(times)


def format_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> str:
    """Rows as a text table with aligned columns (numbers right-aligned)."""
    if not rows:
        return f'{title}\n(no rows)\n'
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}

    def numeric(text: str) -> bool:
        text = text.strip().rstrip('x%').replace(' GiB', '').replace(' MiB', '').strip()
        if text in ('inf', '-'):
            return True
        try:
            float(text)
            return True
        except ValueError:
            return False

    def cell(c: str, text: str) -> str:
        return text.rjust(width[c]) if numeric(text) else text.ljust(width[c])

    lines = [title, '  '.join(c.ljust(width[c]) for c in cols),
             '  '.join('-' * width[c] for c in cols)]
    lines += ['  '.join(cell(c, r[c]) for c in cols) for r in rows]
    lines += list(notes)
    return '\n'.join(lines) + '\n'




def fmt_ms(seconds: float) -> str:
    return f'{seconds * 1e3:.0f}' if seconds >= 0.1 else f'{seconds * 1e3:.1f}'


def fmt_bytes(n: Optional[float]) -> str:
    if n is None:
        return '-'
    return f'{n / 2**30:.2f} GiB' if n >= 2**30 else f'{n / 2**20:.0f} MiB'


def reset_peak(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(device: torch.device) -> Optional[int]:
    """Peak allocated GPU memory since :func:`reset_peak` (None on CPU)."""
    return torch.cuda.max_memory_allocated(device) if device.type == 'cuda' else None


def time_runs(fn: Callable[[], object], device: torch.device, repeats: int,
              warmup: int = 1) -> List[float]:
    """Wall times (seconds) of ``repeats`` calls of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def torch_threads(n: Optional[int]):
    saved = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def thread_counts(args: argparse.Namespace) -> List[Optional[int]]:
    """Thread counts to compare on CPU (``--compare-threads``), else the current one."""
    if args.device != 'cpu' or not args.compare_threads:
        return [None]
    return sorted({int(t) for t in args.compare_threads.split(',')})


def rgb_photo(height: int, width: int) -> Tuple[np.ndarray, str]:
    """A real rainy photo resized/stacked to (height, width), else a smooth synthetic one."""
    import cv2
    paths = [osp.join(OFFICIAL_DIR, 'rainy', f'Eg{i}.JPG') for i in (1, 3)]
    if all(osp.exists(p) for p in paths):
        imgs = [cv2.imread(p)[:, :, ::-1] for p in paths]
        if imgs[0].shape[:2] == (512, 1024) and (height, width) == (512, 1024):
            return np.ascontiguousarray(imgs[0]), 'Eg1.JPG'
        stacked = np.concatenate(imgs, axis=0)  # 1024 x 1024
        if (height, width) != stacked.shape[:2]:
            stacked = cv2.resize(stacked, (width, height), interpolation=cv2.INTER_CUBIC)
        return np.ascontiguousarray(stacked), 'Eg1+Eg3.JPG stacked' + (
            '' if (height, width) == (1024, 1024) else ', resized')
    g = np.random.default_rng(0)
    low = g.integers(0, 256, (max(2, height // 32), max(2, width // 32), 3)).astype(np.uint8)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = g.integers(-20, 21, img.shape)
    return np.clip(img.astype(np.int32) + noise, 0, 255).astype(np.uint8), 'synthetic'


def background_generator(device: torch.device):
    """(G_B in eval mode on ``device``, label): released weights if found, else random."""
    from nlcl_plugin.models import DecompositionGenerator
    from nlcl_plugin.models.checkpoint import load_generator
    ckpt = osp.join(OFFICIAL_DIR, 'checkpoints', 'latest_net_Back.pth')
    torch.manual_seed(0)
    net = DecompositionGenerator()
    label = 'random weights'
    if osp.exists(ckpt):
        net = load_generator(net, ckpt, role='background')
        label = 'released G_B'
    return net.eval().to(device), label


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64))**2))
    return float('inf') if mse == 0 else 10 * np.log10(255.0**2 / mse)


def fmt_psnr(p: float) -> str:
    return 'inf' if p == float('inf') else f'{p:.1f}'
