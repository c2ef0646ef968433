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
``AmpOptimWrapper``; on CUDA by default, on CPU with ``--amp on``: bf16 autocast;
``--amp bf16`` on a GPU: bf16 autocast without loss scaling, ``--amp all``: both). Its
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
import json
import sys
import time
from typing import List, Tuple

import torch

from ..hardware import describe_cpu
from . import inference, sampler, train  # noqa: F401  (register the sections, in this order)
from .common import SECTIONS, Table, format_table


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
    p.add_argument('--amp', default='auto',
                   choices=['auto', 'off', 'on', 'both', 'fp16', 'bf16', 'all'],
                   help='train: AmpOptimWrapper off/on/both (auto: both on CUDA, off on CPU; '
                   'on CPU, AMP is bf16 autocast); fp16 or bf16: that autocast dtype only; '
                   'all: fp32 and every autocast dtype of the device (CUDA: fp16 and bf16)')
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
        print(json.dumps(inference._child_derain(json.loads(args.child))))
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
