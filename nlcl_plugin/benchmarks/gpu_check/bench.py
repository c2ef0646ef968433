"""Section ``bench``: the training step and inference of :mod:`nlcl_plugin.benchmarks` on the
device (time, memory, a profiler pass), for the targets."""
import re
import statistics
import time
from typing import Any, Dict

from .core import AUTHORS_ITER_S, Section, device_name, mib, sync

#: cuDNN's layout conversion kernels (around convolutions run in NHWC on NCHW maps).
LAYOUT_KERNELS = re.compile(r'nchwToNhwc|nhwcToNchw', re.I)


def _tables(s: Section, tables, prefix: str = '') -> None:
    for t in tables:
        s.table(prefix + t.title, t.rows, t.notes)


def _profile_step(dev: str, size: int, amp, batch: int = 1) -> Dict[str, Any]:
    """One training step under torch.profiler: kernels launched, GPU busy time, and
    cuDNN's layout conversion kernels among them."""
    import torch

    from ..train import build_nlcl, nlcl_batch
    model, optims = build_nlcl(torch.device(dev), amp)
    out = step_profile(model, optims, nlcl_batch(batch, size), dev)
    del model, optims
    return out


def step_profile(model, optims, data, dev: str, warmup: int = 2) -> Dict[str, Any]:
    """:func:`_profile_step` for a model already built."""
    from torch.profiler import ProfilerActivity, profile
    for _ in range(warmup):
        model.train_step(data, optims)
    sync(dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == 'cuda' else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        model.train_step(data, optims)
        sync(dev)
        wall = time.perf_counter() - t0
    kernels, busy, layout, layout_s = 0, 0.0, 0, 0.0
    for evt in prof.key_averages():
        if 'CUDA' not in str(getattr(evt, 'device_type', '')):
            continue  # CPU-side events (operators, launches)
        t = getattr(evt, 'self_device_time_total', None)
        if t is None:
            t = getattr(evt, 'self_cuda_time_total', 0)
        kernels += evt.count
        busy += t / 1e6
        if LAYOUT_KERNELS.search(evt.key):
            layout += evt.count
            layout_s += t / 1e6
    return dict(wall_ms=wall * 1e3, kernels=kernels, gpu_busy_ms=busy * 1e3,
                busy_fraction=(busy / wall) if wall > 0 else 0.0, layout_kernels=layout,
                layout_ms=layout_s * 1e3)


def _layout_comparison(s: Section, dev: str, size: int, batches, reps: int) -> None:
    """The training step with the networks in channels-last (the default on CUDA) and in
    NCHW: time, and cuDNN's layout conversion kernels left in the step."""
    import torch

    from ...models.fast_ops import channels_last
    from ..common import time_runs
    from ..train import amp_label, build_nlcl, nlcl_batch
    device = torch.device(dev)
    rows = []
    for amp in (True, False):
        for layout in ('channels-last', 'NCHW'):
            with channels_last(device.type, layout == 'channels-last'):
                model, optims = build_nlcl(device, amp)  # moved to the device in the layout
                for n in batches:
                    data = nlcl_batch(n, size)
                    times = time_runs(lambda: model.train_step(data, optims), device, reps,
                                      warmup=2)
                    prof = step_profile(model, optims, data, dev, warmup=0)
                    med = statistics.median(times)
                    rows.append({'precision': amp_label(amp, device), 'layout': layout,
                                 'batch': n, 'ms/step (median)': round(med * 1e3, 1),
                                 'images/s': round(n / med, 1),
                                 'layout conversion kernels': prof['layout_kernels'],
                                 'their GPU ms': round(prof['layout_ms'], 1)})
                    s.metrics.setdefault('layout', {})[
                        f'{"amp" if amp else "fp32"}_{layout}_b{n}'] = dict(
                            ms=med * 1e3, layout_kernels=prof['layout_kernels'],
                            layout_ms=prof['layout_ms'])
                del model, optims
                if device.type == 'cuda':
                    torch.cuda.empty_cache()
    s.table(f'Training step ({size}x{size}), channels-last against NCHW networks', rows,
            [f'median of {reps} steps after 2 warm-up steps, then one step under '
             'torch.profiler: cuDNN\'s nchwToNhwc / nhwcToNchw kernels in it (NCHW: '
             'NLCL_CUDA_CHANNELS_LAST=0, or fast_ops.channels_last(\'cuda\', False))'])
    left = [r for r in rows if r['layout'] == 'channels-last' and r['layout conversion kernels']]
    s.metrics['layout_kernels_left'] = sum(r['layout conversion kernels'] for r in left)


def _infer_timing(dev: str, height: int, width: int, precision: str, repeats: int):
    import torch
    from ...inference import Derainer
    from ..common import background_generator, rgb_photo, time_runs
    net, label = background_generator(torch.device(dev))
    rgb, source = rgb_photo(height, width)
    derainer = Derainer(net, device=dev, precision=precision)
    if dev == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    times = time_runs(lambda: derainer(rgb), torch.device(dev), repeats, warmup=1)
    peak = torch.cuda.max_memory_allocated() if dev == 'cuda' else None
    return dict(ms=statistics.median(times) * 1e3, best_ms=min(times) * 1e3, peak=peak,
                weights=label, photo=source, tile=derainer.tile or 0)


def section_bench(s: Section) -> None:
    import torch
    from .. import cli
    from ..common import SECTIONS
    dev = device_name(s.dry)
    size = 64 if s.dry else 256
    batches = '1,2' if s.dry else '1,4,8'
    reps = 1 if s.dry else (3 if s.quick else 10)
    # fp32, fp16 AMP and, on GPUs that have it, bf16 AMP (no loss scaling); the CPU's
    # AMP is bf16 only
    bf16 = not s.dry and torch.cuda.is_bf16_supported()
    modes = 'all' if bf16 else 'both'
    args = cli.parse_args(['--device', dev, '--section', 'train', '--amp', modes,
                           '--train-size', str(size), '--train-batches', batches,
                           '--train-repeats', str(reps), '--throughput-repeats', str(reps)])
    tables = SECTIONS['train'][2](args)
    _tables(s, tables)
    amp_label = 'AMP ' + ('bf16' if dev == 'cpu' else 'fp16')
    keys = {'fp32': 'fp32', amp_label: 'amp', 'AMP bf16': 'amp' if dev == 'cpu' else 'bf16'}
    train = {}
    for t in tables:  # the throughput table: one row per precision and batch size
        for row in t.rows:
            if 'iter/s' in row and 'batch' in row:
                key = (keys[row['precision']], int(row['batch']))
                train[key] = dict(ms=1e3 / float(row['iter/s']),
                                  images_per_s=float(row['images/s']),
                                  peak=row.get('peak GPU mem', '-'))
            elif str(row.get('phase', '')).startswith('non-local searches'):
                title = t.title.replace('AMP (', 'AMP ').replace(')', '')
                key = next((v for k, v in keys.items() if f', {k},' in title), 'fp32')
                s.metrics.setdefault('search_ms', {})[key] = float(row['ms'])
    s.metrics['train'] = {f'{p}_b{b}': v for (p, b), v in train.items()}
    for prec in ('amp', 'fp32', 'bf16'):
        if (prec, 1) in train:
            s.metrics[f'{prec}_b1_ms'] = train[(prec, 1)]['ms']
    if ('amp', 1) in train:
        s.metrics['speedup_vs_authors'] = AUTHORS_ITER_S * 1e3 / train[('amp', 1)]['ms']
    b8 = [v['images_per_s'] for (p, b), v in train.items() if b == 8]
    if b8:
        s.metrics['b8_images_per_s'] = max(b8)
    precisions = 3 if bf16 else 2
    s.check('training steps on the device ran for every batch size, fp32 and AMP'
            + (' (fp16 and bf16)' if bf16 else ''),
            len(train) == precisions * len(batches.split(',')))

    # Where the time goes: GPU busy time of one AMP and one fp32 step (profiler).
    rows = []
    for amp in (True, False):
        try:
            prof = _profile_step(dev, size, amp)
        except Exception as err:  # noqa: BLE001
            s.notes.append(f'profiler pass failed: {type(err).__name__}: {err}')
            break
        rows.append({'precision': amp_label if amp else 'fp32', 'step ms (profiled)':
                     round(prof['wall_ms'], 1), 'GPU kernels': prof['kernels'],
                     'GPU busy ms': round(prof['gpu_busy_ms'], 1),
                     'GPU busy %': round(100 * prof['busy_fraction'], 1),
                     'layout conversion kernels': prof['layout_kernels']})
        s.metrics.setdefault('profile', {})['amp' if amp else 'fp32'] = prof
    if rows:
        s.table(f'One training step (batch 1, {size}x{size}) under torch.profiler', rows,
                ['GPU busy: summed device time of the kernels; a low share means the step '
                 'waits on the CPU (Python, kernel launches), not on the GPU'])

    # Channels-last against NCHW (cuDNN's conversion kernels), batch 1 and the largest.
    try:
        _layout_comparison(s, dev, size, sorted({1, int(batches.split(',')[-1])}),
                           2 if s.dry else 5)
    except Exception as err:  # noqa: BLE001
        s.notes.append(f'layout comparison failed: {type(err).__name__}: {err}')

    # Inference: benchmark.py's comparison on 512x1024, then Derainer at 512x1024 and
    # 4000x3000 (whole image on the GPU), fp32 and fp16.
    iargs = cli.parse_args(['--device', dev, '--section', 'inference', '--infer-size',
                              '128x256' if s.dry else '512x1024', '--infer-repeats',
                              str(1 if s.dry else (3 if s.quick else 10))])
    _tables(s, SECTIONS['inference'][2](iargs))
    sizes = [(128, 256), (300, 400)] if s.dry else [(512, 1024), (3000, 4000)]
    rows = []
    precisions = ['fp32'] + ([] if s.dry else ['fp16'])
    for height, width in sizes:
        for prec in precisions:
            r = _infer_timing(dev, height, width, prec, 1 if s.dry else (3 if s.quick else 5))
            rows.append({'photo': f'{width}x{height}', 'precision': prec,
                         'ms (median)': round(r['ms'], 1), 'best ms': round(r['best_ms'], 1),
                         'Mpixel/s': width * height / 1e3 / r['ms'],
                         'peak GPU mem': mib(r['peak']), 'weights': r['weights']})
            s.metrics.setdefault('infer', {})[f'{width}x{height}_{prec}'] = r
    s.table(f'Derainer on {dev}: uint8 photo in, uint8 image out (transfers included), '
            'whole image', rows)
    big = s.metrics.get('infer', {}).get(f'{sizes[-1][1]}x{sizes[-1][0]}_fp32')
    if big and not s.dry:
        s.metrics['infer_12mp_s'] = big['ms'] / 1e3
