"""Section ``bench``: the training step and inference of :mod:`nlcl_plugin.benchmarks` on the
device (time, memory, a profiler pass), for the targets."""
import statistics
import time
from typing import Any, Dict

from .core import AUTHORS_ITER_S, Section, device_name, mib, sync


def _tables(s: Section, tables, prefix: str = '') -> None:
    for t in tables:
        s.table(prefix + t.title, t.rows, t.notes)


def _profile_step(dev: str, size: int, amp: bool) -> Dict[str, Any]:
    """One training step under torch.profiler: kernels launched and GPU busy time."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from ..train import build_nlcl, nlcl_batch
    model, optims = build_nlcl(torch.device(dev), amp)
    data = nlcl_batch(1, size)
    for _ in range(2):
        model.train_step(data, optims)
    sync(dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == 'cuda' else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        model.train_step(data, optims)
        sync(dev)
        wall = time.perf_counter() - t0
    kernels, busy = 0, 0.0
    for evt in prof.key_averages():
        if 'CUDA' not in str(getattr(evt, 'device_type', '')):
            continue  # CPU-side events (operators, launches)
        t = getattr(evt, 'self_device_time_total', None)
        if t is None:
            t = getattr(evt, 'self_cuda_time_total', 0)
        kernels += evt.count
        busy += t / 1e6
    del model, optims
    return dict(wall_ms=wall * 1e3, kernels=kernels, gpu_busy_ms=busy * 1e3,
                busy_fraction=(busy / wall) if wall > 0 else 0.0)


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
    args = cli.parse_args(['--device', dev, '--section', 'train', '--amp', 'both',
                             '--train-size', str(size), '--train-batches', batches,
                             '--train-repeats', str(reps), '--throughput-repeats', str(reps)])
    tables = SECTIONS['train'][2](args)
    _tables(s, tables)
    amp_label = 'AMP ' + ('bf16' if dev == 'cpu' else 'fp16')
    train = {}
    for t in tables:  # the throughput table: one row per precision and batch size
        for row in t.rows:
            if 'iter/s' in row and 'batch' in row:
                key = ('amp' if row['precision'] == amp_label else 'fp32', int(row['batch']))
                train[key] = dict(ms=1e3 / float(row['iter/s']),
                                  images_per_s=float(row['images/s']),
                                  peak=row.get('peak GPU mem', '-'))
            elif str(row.get('phase', '')).startswith('non-local searches'):
                key = 'amp' if 'AMP' in t.title else 'fp32'
                s.metrics.setdefault('search_ms', {})[key] = float(row['ms'])
    s.metrics['train'] = {f'{p}_b{b}': v for (p, b), v in train.items()}
    if (('amp', 1)) in train:
        s.metrics['amp_b1_ms'] = train[('amp', 1)]['ms']
        s.metrics['speedup_vs_authors'] = AUTHORS_ITER_S * 1e3 / train[('amp', 1)]['ms']
    b8 = [v['images_per_s'] for (p, b), v in train.items() if b == 8]
    if b8:
        s.metrics['b8_images_per_s'] = max(b8)
    s.check('training steps on the device ran for every batch size, fp32 and AMP',
            len(train) == 2 * len(batches.split(',')))

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
                     'GPU busy %': round(100 * prof['busy_fraction'], 1)})
        s.metrics.setdefault('profile', {})['amp' if amp else 'fp32'] = prof
    if rows:
        s.table(f'One training step (batch 1, {size}x{size}) under torch.profiler', rows,
                ['GPU busy: summed device time of the kernels; a low share means the step '
                 'waits on the CPU (Python, kernel launches), not on the GPU'])

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
