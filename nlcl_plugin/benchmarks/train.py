"""Benchmark section ``train``: one full NLCL training iteration (breakdown by phase, ratios
measured side by side, throughput per batch size, with and without AMP)."""
import argparse
import contextlib
import copy
import functools
import os.path as osp
import statistics
import time
import warnings
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .common import (REPO, Table, fmt_bytes, fmt_ms, peak_bytes, register_section,
                     reset_peak, synchronize, thread_counts, time_runs, torch_threads)


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


def amp_label(amp: Union[bool, str], device: torch.device, sep: str = ' ') -> str:
    """'fp32', or 'AMP' and the autocast dtype (``sep``: ' ' gives 'AMP fp16', '(' gives
    'AMP (fp16)')."""
    if not amp:
        return 'fp32'
    from ..mmagic.runner_utils import amp_precision
    dtype = amp_precision(amp, device.type == 'cuda')
    return f'AMP ({dtype})' if sep == '(' else f'AMP{sep}{dtype}'


def build_nlcl(device: torch.device, amp: Union[bool, str] = False,
               cfg_options: Optional[dict] = None):
    """The MMagic NLCL model and its optimiser wrappers from configs/nlcl_real_rain.py.

    ``amp``: False, True (fp16 on CUDA, bf16 on CPU), 'fp16' or 'bf16': mmengine's
    ``AmpOptimWrapper`` as ``tools/train.py --amp`` sets it up
    (:func:`nlcl_plugin.mmagic.runner_utils.amp_precision`). ``cfg_options`` are merged
    into the config first (e.g. smaller networks for a test).
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import nlcl_plugin.mmagic  # noqa: F401
    from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

    from ..mmagic.runner_utils import _enable_amp, amp_precision
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'nlcl_real_rain.py'))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # every timed iteration is a full one (D step, then G step): no D-only warm-up
    cfg.model.train_cfg = dict(cfg.model.get('train_cfg') or {}, disc_init_steps=0)
    if amp:
        _enable_amp(cfg, amp_precision(amp, device.type == 'cuda'))
    ow_cfg = copy.deepcopy(cfg.optim_wrapper.to_dict() if hasattr(cfg.optim_wrapper, 'to_dict')
                           else dict(cfg.optim_wrapper))
    constructor = ow_cfg.pop('constructor', 'MultiOptimWrapperConstructor')
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


def _amp_modes(args: argparse.Namespace) -> List[Union[bool, str]]:
    mode = args.amp
    if mode == 'auto':
        mode = 'both' if args.device == 'cuda' else 'off'
    if mode == 'all':  # fp32 and every autocast dtype the device runs
        return [False, 'fp16', 'bf16'] if args.device == 'cuda' else [False, 'bf16']
    return {'off': [False], 'on': [True], 'both': [False, True], 'fp16': ['fp16'],
            'bf16': ['bf16']}[mode]


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


def _train_breakdown(args, device, amp: Union[bool, str]) -> List[Table]:
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
    precision = amp_label(amp, device, '(')
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


def _train_throughput(args, device, amps: List[Union[bool, str]]) -> Table:
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
                        'precision': amp_label(amp, device),
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
