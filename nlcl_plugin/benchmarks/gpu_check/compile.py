"""Section ``compile``: ``torch.compile`` against eager.

* the training step compiled as mmengine's Runner compiles it (config key ``compile``,
  ``tools/train.py --compile``: ``torch.compile(model.train_step, mode='reduce-overhead')``,
  CUDA graphs) against the eager step: 20 iterations each from the same weights and
  batches, the losses compared iteration by iteration, the time per step, and the graphs
  dynamo made of it;
* ``Derainer(compile=True)`` on a 4000x3000 photo (uint8 in and out) against the eager
  ``Derainer``, for the target;
* G_B's forward on the same photo, eager and compiled, each with TF32 allowed (torch's
  default for cuDNN convolutions) and against fp32 with TF32 off: which of the two moves
  away from exact float32 when they disagree.
"""
import statistics
import time
from typing import Any, Dict

from .core import Section, device_name, sync


def _losses(logs: Dict[str, Any]) -> Dict[str, float]:
    import torch
    return {k: float(torch.as_tensor(v).detach().float().mean()) for k, v in logs.items()
            if k.startswith('loss') and isinstance(v, (int, float, torch.Tensor))}


def compiled_training(dev: str, size: int, iters: int, amp, options: Dict[str, Any],
                      cfg_options=None) -> Dict[str, Any]:
    """``iters`` training steps, eager and through ``torch.compile(model.train_step,
    **options)`` (two models from the same seed, the same batches): the largest relative
    difference of any loss, step times, the compilation's first call, dynamo's counts."""
    import torch
    from torch._dynamo.utils import counters

    from ..train import build_nlcl, nlcl_batch
    device = torch.device(dev)
    torch._dynamo.reset()
    counters.clear()
    eager, eager_opt = build_nlcl(device, amp, cfg_options)
    model, optims = build_nlcl(device, amp, cfg_options)
    step = torch.compile(model.train_step, **options)
    worst, times_e, times_c, first = 0.0, [], [], None
    for i in range(iters):
        data = nlcl_batch(1, size, i)
        sync(dev)
        t0 = time.perf_counter()
        a = _losses(eager.train_step(data, eager_opt))
        sync(dev)
        t1 = time.perf_counter()
        b = _losses(step(data, optims))
        sync(dev)
        t2 = time.perf_counter()
        times_e.append(t1 - t0)
        if first is None:
            first = t2 - t1
        else:
            times_c.append(t2 - t1)
        worst = max([worst] + [abs(a[k] - b[k]) / max(abs(a[k]), 1e-9) for k in a])
    warm = slice(2, None) if iters > 4 else slice(0, None)
    out = dict(iterations=iters, worst_rel=worst, eager_ms=statistics.median(times_e[warm]) * 1e3,
               compiled_ms=statistics.median(times_c[warm] or times_c) * 1e3,
               first_call_s=first, graphs=int(counters['stats'].get('unique_graphs', 0)),
               graph_breaks=int(sum(counters['graph_break'].values())))
    del eager, eager_opt, model, optims, step
    torch._dynamo.reset()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return out


def _grey(a, b) -> int:
    return int(abs(a.astype(int) - b.astype(int)).max())


def _training_table(s: Section, amp) -> None:
    """The training step compiled as the Runner's ``compile`` option compiles it, against
    the eager step: one table per precision."""
    import torch

    from ..train import amp_label
    dev = device_name(s.dry)
    device = torch.device(dev)
    if s.dry:  # tiny networks, no code generation: the code path, not the speed
        size, iters = 32, 4
        options = dict(backend='aot_eager', dynamic=False)
        small = {'model.generator.num_blocks': 2, 'model.generator.mid_channels': 8,
                 'model.rain_generator.num_blocks': 2, 'model.rain_generator.mid_channels': 8,
                 'model.discriminator.base_channels': 8,
                 'model.objective.loc_layers': (0, 1, 2, 3)}
    else:
        size, iters = 256, 6 if s.quick else 20
        options = dict(mode='reduce-overhead', dynamic=False)
        small = None
    label = amp_label(amp, device)
    try:
        r = compiled_training(dev, size, iters, amp, options, small)
    except Exception as err:  # noqa: BLE001
        s.check(f'training step compiled ({label}) runs', False,
                f'{type(err).__name__}: {err}'[:300])
        return
    key = 'amp' if amp else 'fp32'
    s.metrics.setdefault('train_compiled', {})[key] = r
    if not s.dry:
        s.metrics[f'{key}_b1_compiled_ms'] = r['compiled_ms']
    # two trainings drift apart from their first rounding difference on
    tol = 1e-2 if amp else 1e-3
    s.check(f'training step compiled ({label}): the eager losses over {iters} iterations',
            r['worst_rel'] <= tol,
            f'largest relative difference {r["worst_rel"]:.1e} (tolerance {tol:g})')
    s.table(f'Training step (batch 1, {size}x{size}, {label}), eager against torch.compile('
            f'model.train_step, {", ".join(f"{k}={v!r}" for k, v in options.items())})',
            [{'precision': label, 'eager ms/step': round(r['eager_ms'], 1),
              'compiled ms/step': round(r['compiled_ms'], 1),
              'first call (compile) s': round(r['first_call_s'], 1),
              'largest loss difference (relative)': f'{r["worst_rel"]:.1e}',
              'graphs': r['graphs'], 'graph breaks': r['graph_breaks']}],
            ['two models from the same seed on the same batches, a compiled and an eager '
             'step in turn; times: medians after 2 steps; graphs and graph breaks: '
             'dynamo\'s counts for the compiled step'])


def section_compile(s: Section) -> None:
    import torch

    from ...inference import Derainer, image_to_tensor, tensor_to_image
    from ..common import background_generator, rgb_photo, time_runs
    from .parity import tf32
    dev = device_name(s.dry)
    device = torch.device(dev)

    # 1. The training step with AMP, as the Runner's compile option runs it (fp32 last:
    # every table is kept if the section reaches its time box).
    _training_table(s, not s.dry)

    # 2. Derainer with compile on a 12-Mpixel photo, against the eager Derainer.
    height, width = (128, 192) if s.dry else (3000, 4000)
    net, label = background_generator(device)
    rgb, source = rgb_photo(height, width)
    rows = []
    reps = 1 if s.dry else 3
    dopts = dict(backend='aot_eager') if s.dry else True
    eager_ref = None
    for prec in (['fp32'] if s.dry else ['fp32', 'fp16']):
        eager = Derainer(net, device=dev, precision=prec, tile=0)
        t_eager = statistics.median(time_runs(lambda: eager(rgb), device, reps, warmup=1))
        out_eager = eager(rgb)[0]
        if eager_ref is None:
            eager_ref = out_eager
        torch._dynamo.reset()
        comp = Derainer(net, device=dev, precision=prec, tile=0, compile=dopts)
        t0 = time.perf_counter()
        out = comp(rgb)[0]
        sync(dev)
        first = time.perf_counter() - t0
        t_comp = statistics.median(time_runs(lambda: comp(rgb), device, reps, warmup=1))
        grey = _grey(out, eager_ref)
        rows.append({'precision': prec, 'eager s': round(t_eager, 3),
                     'compiled s': round(t_comp, 3), 'first call (compile) s': round(first, 1),
                     'max diff vs eager fp32 (grey)': grey})
        if prec == 'fp32':
            s.metrics['derainer_compiled'] = dict(eager_s=t_eager, compiled_s=t_comp,
                                                  first_call_s=first, grey=grey)
            if not s.dry:
                s.metrics['infer_12mp_compiled_s'] = t_comp
                s.metrics['infer_12mp_compiled_grey'] = grey
        del comp
        torch._dynamo.reset()
    s.table(f'Derainer ({label}, {source}, {width}x{height}, uint8 in and out, whole image): '
            'eager against compile=True', rows,
            [f'median of {reps} runs after one more; the first call compiles'])

    # 3. G_B's forward, eager and compiled, TF32 allowed (torch's default for cuDNN) and
    # off, each against fp32 with TF32 off.
    x = image_to_tensor(rgb).contiguous().to(dev)
    rows = []

    def run(fn):
        with torch.inference_mode():
            return tensor_to_image(fn(x))

    with tf32(False):
        exact = run(net)
    for allow in ([True] if s.dry else [True, False]):
        with tf32(allow):
            torch._dynamo.reset()
            compiled = torch.compile(net, **(dict(backend='aot_eager') if s.dry else {}))
            t_eager = statistics.median(time_runs(lambda: run(net), device, reps, warmup=1))
            t0 = time.perf_counter()
            c = run(compiled)
            first = time.perf_counter() - t0
            t_comp = statistics.median(time_runs(lambda: run(compiled), device, reps,
                                                 warmup=1))
            e = run(net)
        rows.append({'TF32 (cuDNN)': 'allowed' if allow else 'off',
                     'eager ms': round(t_eager * 1e3, 1), 'compiled ms': round(t_comp * 1e3, 1),
                     'first call (compile) s': round(first, 1),
                     'compiled vs eager (grey)': _grey(c, e),
                     'eager vs exact fp32 (grey)': _grey(e, exact),
                     'compiled vs exact fp32 (grey)': _grey(c, exact)})
    torch._dynamo.reset()
    s.table(f'G_B forward ({label}, {width}x{height}, tensor on the device): eager and '
            'torch.compile against fp32 with TF32 off', rows,
            ['exact fp32: the eager forward with TF32 off for convolutions and matrix '
             'products; the networks run in their default layout (channels-last on CUDA)'])
    s.check('torch.compile of G_B and of Derainer runs', bool(rows))
    if not s.dry and not s.quick:
        _training_table(s, False)
