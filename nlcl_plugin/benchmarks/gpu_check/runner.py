"""Section ``runner``: training iterations through mmengine's Runner, fp32 and AMP."""
import os.path as osp
import statistics
import time
from typing import Dict, List

from .core import REPO, Section, demo_overrides, device_name, fresh_dir, mib, sync


def section_runner(s: Section) -> None:
    import warnings

    import torch
    from mmengine.hooks import Hook

    from nlcl_plugin.mmagic.runner_utils import build_runner

    class Recorder(Hook):
        priority = 'LOWEST'

        def __init__(self, device):
            self.device = device
            self.logs: List[Dict[str, float]] = []
            self.times: List[float] = []
            self.last = None

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            sync(self.device)
            self.last = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            sync(self.device)
            self.times.append(time.perf_counter() - self.last)
            self.logs.append({k: float(torch.as_tensor(v).float().mean())
                              for k, v in (outputs or {}).items()
                              if isinstance(v, (int, float, torch.Tensor))})

    dev = device_name(s.dry)
    iters = 3 if s.dry else (6 if s.quick else 12)
    crop = 32 if s.dry else 256
    rows = []
    for amp in (False, True):
        label = 'AMP (' + ('bf16' if s.dry else 'fp16') + ')' if amp else 'fp32'
        work = fresh_dir(f'runner_{"amp" if amp else "fp32"}')
        opts = demo_overrides(s.dry, crop)
        # every iteration a full one (D step, then G step): the config's D-only warm-up
        # would leave G untouched for its first 100 iterations
        opts.update({'train_cfg.max_iters': iters, 'default_hooks.checkpoint.interval': 10**6,
                     'default_hooks.checkpoint.save_last': False,
                     'model.train_cfg.disc_init_steps': 0})
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            runner = build_runner(osp.join(REPO, 'configs', 'nlcl_demo.py'), work_dir=work,
                                  cfg_options=opts, amp=amp)
        rec = Recorder(dev)
        runner.register_hook(rec, priority='LOWEST')
        model = runner.model
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        on_device = all(p.device.type == torch.device(dev).type for p in model.parameters())
        runner.train()
        wrappers = runner.optim_wrapper
        kinds = sorted({type(w).__name__ for w in wrappers.values()})
        cast = sorted({str(getattr(w, 'cast_dtype', None)) for w in wrappers.values()})
        scale = [float(w.loss_scaler.get_scale()) for w in wrappers.values()
                 if getattr(w, 'loss_scaler', None) is not None
                 and getattr(w.loss_scaler, 'is_enabled', lambda: True)()]
        # what the optimisers train: not the layer loss's frozen heads (requires_grad off)
        # nor the moving averages (moved by a hook, in no optimiser)
        optimised = {id(p) for w in wrappers.values() for g in w.optimizer.param_groups
                     for p in g['params']}
        trainable = [n for n, p in model.named_parameters()
                     if id(p) in optimised and p.requires_grad]
        trained = set(trainable)
        unchanged = [n for n, p in model.named_parameters()
                     if n in trained and torch.equal(p.detach(), before[n])]
        finite = all(all(v == v and abs(v) != float('inf') for v in log.values())
                     for log in rec.logs)
        times = rec.times[1:] or rec.times
        rows.append({'precision': label, 'wrappers': '/'.join(kinds), 'autocast': '/'.join(cast),
                     'iterations': len(rec.logs),
                     'ms/iter (median after the first)': round(statistics.median(times) * 1e3, 1),
                     'loss_g (last)': round(rec.logs[-1].get('loss_g', float('nan')), 4),
                     'loss_d (last)': round(rec.logs[-1].get('loss_d', float('nan')), 4),
                     'parameters updated': f'{len(trainable) - len(unchanged)}/{len(trainable)}',
                     'final loss scale': '/'.join(f'{v:g}' for v in scale) or '-',
                     'peak mem': mib(torch.cuda.max_memory_allocated()
                                     if dev == 'cuda' else None)})
        s.check(f'{label}: model on {dev}', on_device)
        s.check(f'{label}: {iters} iterations ran, every logged loss finite',
                len(rec.logs) == iters and finite)
        s.check(f'{label}: every trainable parameter updated', not unchanged,
                f'not updated: {", ".join(unchanged[:8])}{" ..." if len(unchanged) > 8 else ""}'
                if unchanged else f'{len(trainable)} parameters')
        if amp:
            want = [['torch.bfloat16']] if s.dry else [['None'], ['torch.float16']]
            s.check(f'{label}: AmpOptimWrapper with {"bfloat16" if s.dry else "float16"} autocast',
                    kinds == ['AmpOptimWrapper'] and cast in want, f'{kinds}, cast {cast}')
        del runner, model, wrappers
        if dev == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    s.table(f'configs/nlcl_demo.py through mmengine\'s Runner, {crop}x{crop} crops, batch 1, '
            f'{dev}', rows, ['iteration time: data loading, both optimiser steps and hooks '
                             'included; the first iteration (warm-up) left out'])
