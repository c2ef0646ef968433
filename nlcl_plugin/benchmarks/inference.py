"""Benchmark sections ``inference`` (plain forward against :class:`~nlcl_plugin.inference.Derainer`)
and ``tiling`` (streamed inference: exactness, peak memory in a child process, time)."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import List

import numpy as np
import torch

from .common import (REPO, Table, background_generator, fmt_bytes, fmt_ms, fmt_psnr,
                     peak_bytes, psnr_u8, register_section, reset_peak, rgb_photo,
                     synchronize, thread_counts, time_runs)


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
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, env.get('PYTHONPATH')) if p)
    res = subprocess.run([sys.executable, '-m', 'nlcl_plugin.benchmarks.cli', '--child',
                          json.dumps(spec)], capture_output=True, text=True, cwd=REPO, env=env)
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
