#!/usr/bin/env python
"""Micro-benchmarks of nlcl_plugin, one or more tables per section.

Examples:
    python tools/benchmark.py --section sampler
    python tools/benchmark.py --section train --threads 1
    python tools/benchmark.py --section all --device cuda

Sections are functions registered with :func:`register_section`; each takes the parsed
command line and returns table rows (dicts from column name to text, every row with the
same columns), or a list of :class:`Table` when it prints several tables. ``--section
all`` runs every registered section in registration order. Every ratio is measured side
by side in the same process; nothing here is a pass/fail test.

``sampler``: time of one non-local search (:func:`nonlocal_topk_batched`) on random maps
of the training sizes, per call and per sample, next to a naive per-candidate loop (the
released implementation's approach: one Python iteration and one growing ``torch.cat``
per candidate), which is timed on one sample with ``--naive-repeats`` repetitions.

``inference``: G_B (the authors' released weights and photos when the folder
``$NLCL_OFFICIAL_DIR``, default ``../shared/official-nlcl``, holds them; else random
weights and a synthetic photo) on a 512x1024 photo: the plain fp32 NCHW forward with
autograd recording against :class:`nlcl_plugin.inference.Derainer` (inference mode,
channels-last, in-place chunked normalisation; streamed in 64-row bands by default on
CPU, or over the whole image) and its reduced-precision path, with the largest
difference to the plain forward.

``tiling``: :class:`~nlcl_plugin.inference.Derainer` with ``tile`` (exact streamed
inference) against the whole-image path on a 1024x1024 photo (PSNR, largest difference,
time), and peak memory (VmHWM of a fresh child process that does nothing else; on CUDA
also ``torch.cuda.max_memory_allocated``) and time for a ``--tiling-size`` photo.

``train``: one full training iteration of the MMagic ``NLCL`` model built from
``configs/nlcl_real_rain.py`` (D step, then G step with the heads) on synthetic
``--train-size`` crops: a breakdown by phase (timers around the objective's, the model's
and the optimiser wrappers' methods; each phase counts its own time only, "other" is
the rest of the measured step, so the phases add up to the step), and iterations and
images per second for each ``--train-batches`` size, with and without AMP (mmengine's
``AmpOptimWrapper``; on CUDA by default, on CPU with ``--amp on``: bf16 autocast). Its
summary gives ratios that hold across CPU kinds, each measured side by side in the same
run (steps and references interleaved): the step against one forward+backward of G_B on
a batch-1 crop of the same size (the unit the step's cost is counted in: its floor is the
about 4.4 generator forwards and backwards the losses need, plus the discriminator), the
non-local searches' share of the step, and the speed-up over the plain ops
(``fast_paths(False)``: NCHW convolutions, ``F.instance_norm``).

The header names the CPU (:func:`nlcl_plugin.hardware.describe_cpu`): channels-last
convolutions and bf16 pay off only with the matching instruction sets (bf16 needs
AVX-512 BF16 or AMX; without them ``--amp on`` is slower than fp32).

``--malloc keep`` (the default, as ``tools/train.py``, ``tools/basicsr_train.py`` and
``tools/derain.py`` run) applies :func:`nlcl_plugin.models.fast_ops.keep_freed_memory`
to the whole process (glibc keeps freed memory instead of page-faulting every large
tensor anew); ``--malloc default`` leaves glibc alone, as a plain ``python`` process has
it.
"""
import argparse
import contextlib
import copy
import functools
import itertools
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import nlcl_plugin  # noqa: E402,F401  (activates the compat fixes)
from nlcl_plugin.hardware import describe_cpu  # noqa: E402
from nlcl_plugin.models.sampler import nonlocal_topk_batched, random_anchors  # noqa: E402

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


# --------------------------------------------------------------------------- shared helpers
OFFICIAL_DIR = os.environ.get('NLCL_OFFICIAL_DIR', osp.join(REPO, '..', 'shared', 'official-nlcl'))


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


# --------------------------------------------------------------------------- inference
def naive_derain(net, rgb: np.ndarray, device: torch.device, grad: bool = True) -> torch.Tensor:
    """The straightforward path: fp32 NCHW eager forward, autograd recording (``grad``) or
    under ``torch.no_grad()`` as a test script would run it."""
    from nlcl_plugin.inference import image_to_tensor
    from nlcl_plugin.models.fast_ops import fast_paths
    with fast_paths(False), torch.set_grad_enabled(grad):
        x = image_to_tensor(rgb).contiguous().to(device)
        return net(x)


@register_section('inference', 'G_B on one photo: plain forward vs Derainer')
def bench_inference(args: argparse.Namespace) -> List[Table]:
    from nlcl_plugin.inference import Derainer, image_to_tensor, tensor_to_image
    device = torch.device(args.device)
    net, label = background_generator(device)
    height, width = args.infer_size
    rgb, source = rgb_photo(height, width)
    reduced = 'bf16' if device.type == 'cpu' else 'fp16'

    def run_naive(image):
        return tensor_to_image(naive_derain(net, image, device))

    def run_naive_no_grad(image):
        return tensor_to_image(naive_derain(net, image, device, grad=False))

    ref_float = naive_derain(net, rgb, device).detach().float()
    ref_u8 = tensor_to_image(ref_float)
    cases = [('plain: fp32 NCHW, autograd recording', None, run_naive, None),
             ('plain: fp32 NCHW, torch.no_grad()', None, run_naive_no_grad, None)]
    default_tile = Derainer(net, device=args.device).tile
    default = (f'streamed, tile={default_tile}' if default_tile else 'whole image')
    for threads in thread_counts(args):
        cases.append((f'Derainer fp32, default ({default})', threads,
                      Derainer(net, device=args.device, threads=threads), 'fp32'))
    if default_tile != args.tile:
        cases.append((f'Derainer fp32, streamed, tile={args.tile}', None,
                      Derainer(net, device=args.device, tile=args.tile), 'fp32'))
    if default_tile:
        cases.append(('Derainer fp32, whole image (tile=0)', None,
                      Derainer(net, device=args.device, tile=0), 'fp32'))
    cases.append((f'Derainer {reduced} autocast (opt-in), default', None,
                  Derainer(net, device=args.device, precision=reduced), reduced))
    cases.append((f'Derainer {reduced} autocast (opt-in), whole image', None,
                  Derainer(net, device=args.device, precision=reduced, tile=0), reduced))
    rows, bases = [], []
    for name, threads, runner, precision in cases:
        reset_peak(device)
        times = time_runs(lambda: runner(rgb), device, args.infer_repeats, warmup=1)
        med = statistics.median(times)
        if precision is None:
            bases.append(med)
        if precision is None:
            out_u8, max_float = ref_u8, 0.0
        else:
            out_float = runner.forward_tensor(net, image_to_tensor(rgb))
            out_u8 = runner(rgb)[0]
            max_float = float((out_float.cpu() - ref_float.cpu()).abs().max())
        grey = int(np.abs(out_u8.astype(np.int32) - ref_u8.astype(np.int32)).max())
        rows.append({
            'path': name,
            'threads': str(threads or torch.get_num_threads()) if device.type == 'cpu' else '-',
            'ms/image': fmt_ms(med), 'best ms': fmt_ms(min(times)), 'images/s': f'{1 / med:.2f}',
            'speed-up': f'{bases[0] / med:.2f}x',
            'vs no_grad': f'{bases[-1] / med:.2f}x', 'max |diff| (float)': f'{max_float:.1e}',
            'max diff (grey)': str(grey), 'PSNR vs plain': fmt_psnr(psnr_u8(out_u8, ref_u8)),
            'peak GPU mem': fmt_bytes(peak_bytes(device))})
    notes = [f'{label}, {source} ({height}x{width}); median of {args.infer_repeats} runs after '
             '1 warm-up, uint8 photo in, uint8 image out; speed-up: against the first row, '
             'vs no_grad: against the plain forward under torch.no_grad(); differences '
             'against the plain forward (float: [-1, 1] output before clamping; grey: 8-bit '
             'output)']
    return [Table(f'[inference] {label}, {height}x{width} photo', rows, notes)]


# --------------------------------------------------------------------------- tiling
def _peak_rss() -> int:
    """Peak resident memory of this process in bytes: ``VmHWM`` (Linux; unlike
    ``ru_maxrss`` it does not carry over the parent's peak through fork), else
    ``ru_maxrss``."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == 'darwin' else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _child_derain(spec: dict) -> dict:
    """Run in a fresh process: derain one photo, report time and peak memory."""
    from nlcl_plugin.inference import Derainer
    device = torch.device(spec['device'])
    if spec.get('malloc') == 'keep':
        from nlcl_plugin.models.fast_ops import keep_freed_memory
        keep_freed_memory()
    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    net, label = background_generator(device)
    height, width = spec['size']
    rgb, source = rgb_photo(height, width)
    base_rss = _peak_rss()
    derainer = Derainer(net, device=spec['device'], tile=spec['tile'])
    reset_peak(device)
    start = time.perf_counter()
    out, _ = derainer(rgb)
    synchronize(device)
    seconds = time.perf_counter() - start
    return dict(seconds=seconds, peak_rss=_peak_rss(),
                base_rss=base_rss, peak_gpu=peak_bytes(device), label=label, source=source,
                shape=list(out.shape))


def run_child(spec: dict) -> dict:
    res = subprocess.run([sys.executable, osp.abspath(__file__), '--child', json.dumps(spec)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f'child process failed ({spec}):\n{res.stderr[-3000:]}')
    return json.loads(res.stdout.strip().splitlines()[-1])


@register_section('tiling', 'Streamed (tile) inference: exactness, peak memory, time')
def bench_tiling(args: argparse.Namespace) -> List[Table]:
    from nlcl_plugin.inference import Derainer
    device = torch.device(args.device)
    net, label = background_generator(device)
    rgb, source = rgb_photo(1024, 1024)
    plain = Derainer(net, device=args.device, tile=0)
    t_plain = statistics.median(time_runs(lambda: plain(rgb), device, 1, warmup=0))
    ref = plain(rgb)[0]
    rows = [{'path': 'Derainer, whole image', 'tile (rows)': '-', 'seconds': f'{t_plain:.2f}',
             'PSNR vs whole (dB)': '-', 'max diff (grey)': '-', 'pixels differing': '-'}]
    for tile in args.tile_sizes:
        tiled = Derainer(net, device=args.device, tile=tile)
        t = statistics.median(time_runs(lambda: tiled(rgb), device, 1, warmup=0))
        out = tiled(rgb)[0]
        diff = np.abs(out.astype(np.int32) - ref.astype(np.int32))
        rows.append({'path': 'Derainer, streamed', 'tile (rows)': str(tile),
                     'seconds': f'{t:.2f}', 'PSNR vs whole (dB)': fmt_psnr(psnr_u8(out, ref)),
                     'max diff (grey)': str(int(diff.max())),
                     'pixels differing': f'{100 * float((diff > 0).mean()):.4f} %'})
    tables = [Table(f'[tiling] exactness, {label}, {source} (1024x1024)', rows,
                    ['one run each (after the plain path warmed up); the streamed path keeps '
                     'whole-image InstanceNorm statistics, so it matches the whole-image '
                     'output up to float32 rounding (rare 1-level rounding ties)'])]

    width, height = args.tiling_size
    mem_rows = []
    specs = [('streamed', args.tile)]
    if args.tiling_untiled:
        specs.append(('whole image', 0))
    for name, tile in specs:
        res = run_child(dict(device=args.device, size=[height, width], tile=tile,
                             threads=args.threads, malloc=args.malloc))
        mem_rows.append({'path': f'Derainer, {name}', 'tile (rows)': str(tile or '-'),
                         'seconds': f'{res["seconds"]:.1f}',
                         'Mpixel/s': f'{width * height / 1e6 / res["seconds"]:.3f}',
                         'peak RSS': fmt_bytes(res['peak_rss']),
                         'RSS before derain': fmt_bytes(res['base_rss']),
                         'peak GPU mem': fmt_bytes(res['peak_gpu'])})
    tables.append(Table(f'[tiling] {width}x{height} photo in a child process ({label})', mem_rows,
                        ['peak RSS: high-water mark of the resident memory (VmHWM) of a fresh '
                         'child process that only loads G_B, builds the photo and derains it; '
                         'RSS before derain: the same mark just before the call (interpreter, '
                         'torch, weights, the uint8 photo); the whole-image path is measured '
                         'with --tiling-untiled']))
    return tables


# --------------------------------------------------------------------------- train
class PhaseTimer:
    """Exclusive wall time of wrapped methods: a phase's time excludes wrapped calls
    made inside it, so phases never count the same work twice."""

    def __init__(self, device: torch.device):
        self.device = device
        self.times: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self._stack: List[float] = []
        self._restore: List[Tuple[object, str]] = []

    def wrap(self, obj: object, attr: str, label: str) -> None:
        fn = getattr(obj, attr)
        timer = self

        @functools.wraps(fn)
        def timed(*a, **kw):
            synchronize(timer.device)
            start = time.perf_counter()
            timer._stack.append(0.0)
            try:
                return fn(*a, **kw)
            finally:
                synchronize(timer.device)
                elapsed = time.perf_counter() - start
                inner = timer._stack.pop()
                timer.times[label] += elapsed - inner
                timer.calls[label] += 1
                if timer._stack:
                    timer._stack[-1] += elapsed

        setattr(obj, attr, timed)
        self._restore.append((obj, attr))

    def reset(self) -> None:
        self.times.clear()
        self.calls.clear()

    def unwrap(self) -> None:
        for obj, attr in self._restore:
            delattr(obj, attr)
        self._restore.clear()


TRAIN_PHASES = (
    ('model', 'decompose', 'G_R(O), G_B([O; B_u]) forwards'),
    ('objective', 'discriminator_loss', 'D step: D(B), D(B_u) forwards'),
    ('disc_ow', 'backward', 'D step: backward'),
    ('disc_ow', 'step', 'D step: Adam'),
    ('disc_ow', 'zero_grad', 'D step: Adam'),
    ('gan_loss', 'forward', 'LSGAN terms (D and G steps)'),
    ('objective', 'discriminator_pass', 'L_adv + L_layer: D(B), D(R) passes'),
    ('generator', 'forward_features', 'L_loc: G_B taps of B, G_B(B_u) (those of O, B_u '
     'are recorded in the forwards)'),
    ('loc_sampler', 'sample_locations', 'non-local searches (4 per step)'),
    ('bg_sampler', 'sample_locations', 'non-local searches (4 per step)'),
    ('rain_sampler', 'sample_locations', 'non-local searches (4 per step)'),
    ('objective', 'location_contrast', 'L_loc: gather, heads, PatchNCE'),
    ('objective', 'layer_contrast', 'L_layer: gather, heads, contrast'),
    ('consistency_loss', 'forward', 'L_consistency'),
    ('sparsity_loss', 'forward', 'L_sparsity'),
    ('gen_ow', 'backward', 'G step: backward (G_B, G_R, heads)'),
    ('gen_ow', 'step', 'G step: Adam'),
    ('gen_ow', 'zero_grad', 'G step: Adam'),
)


def build_nlcl(device: torch.device, amp: bool):
    """The MMagic NLCL model and its optimiser wrappers from configs/nlcl_real_rain.py."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import nlcl_plugin.mmagic  # noqa: F401
    from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'nlcl_real_rain.py'))
    # every timed iteration is a full one (D step, then G step): no D-only warm-up
    cfg.model.train_cfg = dict(cfg.model.get('train_cfg') or {}, disc_init_steps=0)
    ow_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper, 'to_dict')
                           else dict(cfg.optim_wrapper))
    constructor = ow_cfg.pop('constructor', 'MultiOptimWrapperConstructor')
    if amp:
        for w in ow_cfg.values():
            if isinstance(w, dict) and 'optimizer' in w:
                w.update(type='AmpOptimWrapper', loss_scale='dynamic',
                         dtype='bfloat16' if device.type == 'cpu' else 'float16')
    torch.manual_seed(0)
    # On CPU the wrapper builds thanks to nlcl_plugin.compat; its GradScaler then warns that
    # it disables itself (bf16 needs no loss scaling).
    guard = warnings.catch_warnings() if amp else contextlib.nullcontext()
    with DefaultScope.overwrite_default_scope('mmagic'), guard:
        if amp:
            warnings.simplefilter('ignore')
        model = MODELS.build(copy.deepcopy(cfg.model)).to(device)
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type=constructor, optim_wrapper_cfg=ow_cfg))
        optims = ctor(model)
    return model, optims


def nlcl_batch(n: int, size: int, seed: int = 0) -> dict:
    """``n`` rainy crops and ``n`` unpaired clean crops, packed for the data preprocessor."""
    from mmagic.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g).float() for _ in range(n)]
    samples = []
    for _ in range(n):
        s = DataSample()
        s.gt_img = torch.randint(0, 256, (3, size, size), generator=g).float()
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _amp_modes(args: argparse.Namespace) -> List[bool]:
    mode = args.amp
    if mode == 'auto':
        mode = 'both' if args.device == 'cuda' else 'off'
    return {'off': [False], 'on': [True], 'both': [False, True]}[mode]


def generator_reference(model, size: int, device: torch.device, seed: int = 0) -> Callable[[], None]:
    """One forward+backward of G_B on a (1, 3, size, size) crop, the unit the training
    step is counted in; its gradients are dropped so that the step is not disturbed."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, 3, size, size, generator=g) * 2 - 1).to(device)
    net = model.generator

    def run() -> None:
        net(x).square().mean().backward()
        net.zero_grad(set_to_none=True)

    return run


def convolution_macs(run: Callable[[], object], modules: Sequence[torch.nn.Module]) -> dict:
    """Multiply-accumulates of the convolutions in ``modules`` during ``run()``.

    Counted from forward hooks: every convolution's forward; its weight gradient when the
    weight requires grad and the result is recorded for backward; its input gradient when
    the input requires grad (the backward needs it to reach an earlier layer or the
    input). Returns ``{'forward', 'weight grad', 'input grad', 'total'}``.
    """
    counts = dict.fromkeys(('forward', 'weight grad', 'input grad'), 0)

    def hook(conv, inputs, output):
        macs = (output.numel() * (conv.in_channels // conv.groups)
                * conv.kernel_size[0] * conv.kernel_size[1])
        counts['forward'] += macs
        if output.requires_grad and conv.weight.requires_grad:
            counts['weight grad'] += macs
        if output.requires_grad and inputs[0].requires_grad:
            counts['input grad'] += macs

    handles = [m.register_forward_hook(hook) for net in modules for m in net.modules()
               if isinstance(m, torch.nn.Conv2d)]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    counts['total'] = sum(counts.values())
    return counts


def _plain_ops():
    from nlcl_plugin.models.fast_ops import fast_paths
    return fast_paths(False)


def _train_breakdown(args, device, amp: bool) -> List[Table]:
    model, optims = build_nlcl(device, amp)
    data = nlcl_batch(1, args.train_size, args.seed)
    targets = dict(model=model, objective=model.nlcl_objective, generator=model.generator,
                   disc_ow=optims['discriminator'], gen_ow=optims['generator'],
                   gan_loss=model.nlcl_objective.gan_loss,
                   loc_sampler=model.nlcl_objective.loc_sampler,
                   bg_sampler=model.nlcl_objective.bg_sampler,
                   rain_sampler=model.nlcl_objective.rain_sampler,
                   consistency_loss=model.nlcl_objective.consistency_loss,
                   sparsity_loss=model.nlcl_objective.sparsity_loss)
    timer = PhaseTimer(device)
    for key, attr, label in TRAIN_PHASES:
        timer.wrap(targets[key], attr, label)
    reference = generator_reference(model, args.train_size, device, args.seed)
    plain = args.train_plain and device.type == 'cpu'
    model.train_step(data, optims)  # warm-up (allocations, oneDNN kernels)
    reference()
    networks = [model.generator, model.rain_generator, model.discriminator]
    step_macs = convolution_macs(lambda: model.train_step(data, optims), networks)
    ref_macs = convolution_macs(reference, networks)
    if plain:
        with _plain_ops():
            model.train_step(data, optims)
    # steps, references and plain steps interleaved: a change in the machine's load
    # affects all of them alike, so their ratios hold
    steps, refs, plains, per_phase, calls = [], [], [], defaultdict(list), defaultdict(int)
    for _ in range(args.train_repeats):
        timer.reset()
        synchronize(device)
        start = time.perf_counter()
        model.train_step(data, optims)
        synchronize(device)
        steps.append(time.perf_counter() - start)
        for label, t in timer.times.items():
            per_phase[label].append(t)
            calls[label] = timer.calls[label]
        refs += time_runs(reference, device, 2)
        if plain:
            with _plain_ops():
                plains += time_runs(lambda: model.train_step(data, optims), device, 1)
    timer.unwrap()
    mean_step = statistics.mean(steps)
    labels = list(dict.fromkeys(label for _, _, label in TRAIN_PHASES))
    rows = []
    for label in labels:
        t = statistics.mean(per_phase.get(label, [0.0]))
        rows.append({'phase': label, 'ms': fmt_ms(t), '% of step': f'{100 * t / mean_step:.1f}',
                     'calls': str(calls.get(label, 0))})
    other = mean_step - sum(statistics.mean(v) for v in per_phase.values())
    rows.append({'phase': 'other (data preprocessing, bookkeeping)', 'ms': fmt_ms(other),
                 '% of step': f'{100 * other / mean_step:.1f}', 'calls': '-'})
    rows.append({'phase': 'step (measured)', 'ms': fmt_ms(mean_step), '% of step': '100.0',
                 'calls': '1'})
    searches = statistics.mean(per_phase.get('non-local searches (4 per step)', [0.0]))
    precision = ('AMP (' + ('bf16' if device.type == 'cpu' else 'fp16') + ')') if amp else 'fp32'
    notes = [f'mean of {args.train_repeats} steps after 1 warm-up; step: median '
             f'{fmt_ms(statistics.median(steps))} ms, best {fmt_ms(min(steps))} ms; the four '
             f'non-local searches together: {searches * 1e3:.1f} ms (target <= 30 ms)']
    title = (f'[train] one NLCL iteration, batch 1, {args.train_size}x{args.train_size}, '
             f'{precision}, {torch.get_num_threads()} thread(s): breakdown by phase')
    step_med, ref_med = statistics.median(steps), statistics.median(refs)
    summary = [
        {'quantity': 'step / one G_B forward+backward', 'value': f'{step_med / ref_med:.2f}',
         'target': '<= 5.0'},
        {'quantity': 'floor by count: the step\'s convolution MACs / one G_B forward+backward\'s',
         'value': f'{step_macs["total"] / ref_macs["total"]:.2f}', 'target': '-'},
        {'quantity': 'non-local searches, share of the step',
         'value': f'{100 * searches / mean_step:.1f} %', 'target': '-'},
    ]
    if plain:
        summary.append({'quantity': 'speed-up over the plain ops (same step)',
                        'value': f'{statistics.median(plains) / step_med:.2f}x', 'target': '-'})
    summary_notes = [
        f'medians, interleaved: step {fmt_ms(step_med)} ms, one G_B forward+backward '
        f'{fmt_ms(ref_med)} ms ({len(refs)} runs; batch 1, {args.train_size}x{args.train_size}, '
        f'{precision})' + (f', plain step {fmt_ms(statistics.median(plains))} ms'
                           if plain else ''),
        'floor by count: multiply-accumulates of every convolution of G_B, G_R and D in one '
        'step (forwards, weight gradients, input gradients; counted by forward hooks, '
        'tools/benchmark.py convolution_macs) against one G_B forward+backward: '
        f'{step_macs["total"] / 1e9:.2f} / {ref_macs["total"] / 1e9:.2f} GMAC. The losses '
        'need G_R(O), G_B(O), G_B(B_u), G_B\'s taps of B and of G_B(B_u) up to layer 12 '
        '(12 of its 19 layers, all at full resolution) and D on four images; a step '
        'ratio below this count needs convolutions faster per MAC than the reference\'s']
    del model, optims
    return [Table(title, rows, notes),
            Table(f'[train] summary, {args.train_size}x{args.train_size}, {precision}: ratios '
                  'measured side by side', summary, summary_notes)]


def _train_throughput(args, device, amps: List[bool]) -> Table:
    rows = []
    for amp in amps:
        for threads in thread_counts(args):
            with torch_threads(threads):
                model, optims = build_nlcl(device, amp)
                for n in args.train_batches:
                    data = nlcl_batch(n, args.train_size, args.seed)
                    reset_peak(device)
                    times = time_runs(lambda: model.train_step(data, optims), device,
                                      args.throughput_repeats, warmup=1)
                    med = statistics.median(times)
                    rows.append({
                        'precision': ('AMP ' + ('bf16' if device.type == 'cpu' else 'fp16'))
                        if amp else 'fp32',
                        'threads': str(torch.get_num_threads()) if device.type == 'cpu' else '-',
                        'batch': str(n), 's/iter': f'{med:.2f}', 'iter/s': f'{1 / med:.3f}',
                        'images/s': f'{n / med:.2f}',
                        'peak GPU mem': fmt_bytes(peak_bytes(device))})
                del model, optims
    return Table(f'[train] throughput, {args.train_size}x{args.train_size} crops '
                 '(images = rainy crops; each also uses one clean crop)', rows,
                 [f'median of {args.throughput_repeats} step(s) after 1 warm-up per batch size'])


@register_section('train', 'One NLCL training iteration (MMagic model, configs/nlcl_real_rain.py)')
def bench_train(args: argparse.Namespace) -> List[Table]:
    device = torch.device(args.device)
    amps = _amp_modes(args)
    tables = [table for amp in amps for table in _train_breakdown(args, device, amp)]
    tables.append(_train_throughput(args, device, amps))
    return tables


# --------------------------------------------------------------------------- main
def _size(text: str) -> Tuple[int, int]:
    try:
        a, b = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected AxB (e.g. 512x1024), got {text!r}')
    if a < 1 or b < 1:
        raise argparse.ArgumentTypeError(f'sizes must be >= 1, got {text!r}')
    return a, b


def _ints(text: str) -> List[int]:
    try:
        values = [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}')
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f'expected integers >= 1, got {text!r}')
    return values


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Micro-benchmarks of nlcl_plugin.')
    p.add_argument('--section', default='all', choices=[*SECTIONS, 'all'],
                   help='what to benchmark (default: all)')
    p.add_argument('--device', default='cpu', choices=['cpu', 'cuda'],
                   help='device of the timed work (default: cpu)')
    p.add_argument('--repeats', type=int, default=20,
                   help='sampler: timed repetitions of the fast paths (median reported)')
    p.add_argument('--naive-repeats', type=int, default=1,
                   help='repetitions of the naive sampler loop, one sample (0: skip it)')
    p.add_argument('--seed', type=int, default=0, help='seed of the random inputs')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads for torch (default: torch\'s default)')
    p.add_argument('--malloc', default='keep', choices=['keep', 'default'],
                   help='keep (default, as the tools run): glibc keeps freed memory for reuse '
                   '(nlcl_plugin.models.fast_ops.keep_freed_memory), for the whole process; '
                   'default: glibc\'s own settings (tensors above 32 MB are mmap-ed and '
                   'page-faulted anew at every allocation)')
    p.add_argument('--compare-threads', default='',
                   help='train/inference on CPU: also compare these thread counts, e.g. 1,2')
    p.add_argument('--train-size', type=int, default=256, help='train: crop side (256)')
    p.add_argument('--train-batches', type=_ints, default=[1, 2, 4],
                   help='train: batch sizes of the throughput table (default 1,2,4)')
    p.add_argument('--train-repeats', type=int, default=2,
                   help='train: timed steps of the breakdown, after one warm-up (default 2)')
    p.add_argument('--no-train-plain', dest='train_plain', action='store_false',
                   help='train: skip the plain-ops steps of the summary (CPU)')
    p.add_argument('--throughput-repeats', type=int, default=1,
                   help='train: timed steps per batch size, after one warm-up (default 1)')
    p.add_argument('--amp', default='auto', choices=['auto', 'off', 'on', 'both'],
                   help='train: AmpOptimWrapper off/on/both (auto: both on CUDA, off on CPU; '
                   'on CPU, AMP is bf16 autocast)')
    p.add_argument('--infer-size', type=_size, default=(512, 1024),
                   help='inference: photo size HxW (default 512x1024)')
    p.add_argument('--infer-repeats', type=int, default=3,
                   help='inference: timed runs per path, after one warm-up (default 3)')
    p.add_argument('--tile', type=int, default=64,
                   help='inference/tiling: band height of the streamed path (default 64, '
                   'Derainer\'s CPU default)')
    p.add_argument('--tile-sizes', type=_ints, default=[37, 64],
                   help='tiling: band heights compared on the 1024x1024 photo (default 37,64)')
    p.add_argument('--tiling-size', type=_size, default=(4000, 3000),
                   help='tiling: large photo size WxH for the memory test (default 4000x3000)')
    p.add_argument('--tiling-untiled', action='store_true',
                   help='tiling: also measure the whole-image path on the large photo '
                   '(several GB and minutes)')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        return args
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: CUDA is not available (this torch build or machine has no '
                'usable GPU); use --device cpu')
    for name in ('repeats', 'train_repeats', 'throughput_repeats', 'infer_repeats', 'train_size',
                 'tile'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.threads is not None and args.threads < 1:
        p.error('--threads must be >= 1')
    if args.compare_threads:
        try:
            _ints(args.compare_threads)
        except argparse.ArgumentTypeError as err:
            p.error(f'--compare-threads: {err}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child_derain(json.loads(args.child))))
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.malloc == 'keep':
        from nlcl_plugin.models.fast_ops import keep_freed_memory
        if not keep_freed_memory():
            args.malloc = 'default (keep_freed_memory unavailable: not glibc)'
    names = list(SECTIONS) if args.section == 'all' else [args.section]
    print(f'CPU: {describe_cpu()}')
    print(f'torch {torch.__version__}, device {args.device}'
          f'{" (" + torch.cuda.get_device_name() + ")" if args.device == "cuda" else ""}, '
          f'{torch.get_num_threads()} torch threads, '
          f'malloc: {args.malloc}, {time.strftime("%Y-%m-%d")}\n')
    for name in names:
        title, note, fn = SECTIONS[name]
        result = fn(args)
        notes = [note.format(**vars(args))] if note else []
        if result and isinstance(result[0], Table):
            for i, table in enumerate(result):
                extra = notes if i == len(result) - 1 else []
                print(format_table(table.title, table.rows, list(table.notes) + extra))
        else:
            print(format_table(f'[{name}] {title}', result, notes))
        sys.stdout.flush()



if __name__ == '__main__':
    main()
