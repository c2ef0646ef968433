"""Training options for GPUs, tested on the CPU: ``--compile`` (mmengine's config key
``compile``: the Runner compiles ``model.train_step``) gives the eager step's losses, and
``--amp fp16|bf16`` builds the right ``AmpOptimWrapper`` (bf16: no loss scaling)."""
import os.path as osp
import sys
import warnings

import pytest
import torch
from mmengine.hooks import Hook

from nlcl_plugin.mmagic.runner_utils import (ConfigError, _enable_amp, amp_precision,
                                             build_runner, compile_options, load_config)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs', 'nlcl_demo.py')

#: Small networks and samplers, 32x32 crops, no validation or checkpoints: what a training
#: step does, at a size that traces quickly.
SMALL = {
    'model.generator.num_blocks': 2, 'model.generator.mid_channels': 8,
    'model.rain_generator.num_blocks': 2, 'model.rain_generator.mid_channels': 8,
    'model.discriminator.base_channels': 8, 'model.objective.loc_layers': (0, 1, 2, 3),
    'model.objective.num_loc_patches': 32, 'model.objective.num_rain_patches': 16,
    'model.train_cfg.disc_init_steps': 0,
    'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
    'train_dataloader.dataset.pipeline.2.crop_size': 32,
    'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
    'default_hooks.checkpoint.interval': 10**6, 'default_hooks.checkpoint.save_last': False,
}


class _Losses(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.logs = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.logs.append({k: float(torch.as_tensor(v).detach().float().mean())
                          for k, v in (outputs or {}).items()
                          if isinstance(v, (int, float, torch.Tensor))})


def _train(work_dir, iters, compile=None):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runner = build_runner(DEMO, work_dir=str(work_dir), compile=compile,
                              cfg_options=dict(SMALL, **{'train_cfg.max_iters': iters}))
        rec = _Losses()
        runner.register_hook(rec, priority='LOWEST')
        runner.train()
    return runner, rec.logs


def _compare(eager, compiled, rel):
    """Every logged loss of every iteration within ``rel`` (relative). The derived
    ``layer_floor_gap`` (loss_layer minus a constant, near 0) is left out: its relative
    error is loss_layer's rounding magnified."""
    assert len(eager) == len(compiled) and eager
    worst = 0.0
    for a, b in zip(eager, compiled):
        assert a.keys() == b.keys() and 'loss_g' in a and 'loss_d' in a
        for k in (k for k in a if k.startswith('loss')):
            worst = max(worst, abs(a[k] - b[k]) / max(abs(a[k]), 1e-9))
    assert worst <= rel, worst
    return worst


def _compiled_runs(tmp_path, backend):
    torch._dynamo.reset()
    _, eager = _train(tmp_path / 'eager', 20)
    runner, compiled = _train(tmp_path / 'compiled', 20,
                              compile=dict(backend=backend) if backend else True)
    # mmengine's Runner replaced the model's train_step by the compiled one
    assert hasattr(runner.model.train_step, '_torchdynamo_orig_callable')
    assert not any('_orig_mod' in k for k in runner.model.state_dict())
    torch._dynamo.reset()
    return eager, compiled


def test_compiled_training_step_gives_the_eager_losses(tmp_path):
    """20 iterations through the Runner with ``compile`` (dynamo's capture of NLCL's
    train_step and AOTAutograd's joint forward/backward graphs, run without code
    generation) against 20 eager ones from the same seed: same losses, to float32
    rounding carried through 20 Adam steps."""
    eager, compiled = _compiled_runs(tmp_path, 'aot_eager')
    _compare(eager, compiled, rel=1e-3)


@pytest.mark.slow
def test_inductor_compiled_training_step_gives_the_eager_losses(tmp_path):
    """The same with torch.compile's default backend (inductor: generated C++ kernels on
    the CPU), what ``tools/train.py --compile`` runs; compiling takes minutes on a CPU.
    The fused kernels sum in another order, and 20 Adam steps of a GAN carry the rounding
    on (3e-4 at the 20th iteration, measured on an AMD EPYC)."""
    eager, compiled = _compiled_runs(tmp_path, None)
    _compare(eager, compiled, rel=1e-3)


def test_compile_options():
    assert compile_options(True, cuda=True) == dict(mode='reduce-overhead', dynamic=False)
    assert compile_options(True, cuda=False) == dict(mode='default', dynamic=False)
    assert compile_options('max-autotune') == dict(mode='max-autotune', dynamic=False)
    assert compile_options(dict(backend='eager', dynamic=True)) == dict(backend='eager',
                                                                          dynamic=True)
    assert compile_options(False) is None
    for bad in ('fast', 3):
        with pytest.raises(ConfigError):
            compile_options(bad)


def test_amp_precision(monkeypatch):
    assert amp_precision(False) is None
    assert amp_precision(True, cuda=False) == 'bf16'
    assert amp_precision(True, cuda=True) == 'fp16'
    assert amp_precision('bf16', cuda=False) == 'bf16'
    with pytest.raises(ConfigError, match='--amp fp16 needs a CUDA device'):
        amp_precision('fp16', cuda=False)
    with pytest.raises(ConfigError):
        amp_precision('fp8', cuda=True)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a: 'Tesla V100')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    with pytest.raises(ConfigError, match='Tesla V100 has no bf16 support; use --amp fp16'):
        amp_precision('bf16', cuda=True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert amp_precision('bf16', cuda=True) == 'bf16'


def test_amp_wrappers_in_the_config():
    """fp16: dynamic loss scaling; bf16: autocast in bf16, loss scaling off (a disabled
    GradScaler), for both optimiser wrappers."""
    for precision, dtype, scale in (('fp16', 'float16', 'dynamic'),
                                    ('bf16', 'bfloat16', dict(enabled=False))):
        cfg = load_config(DEMO)
        _enable_amp(cfg, precision)
        wrappers = [w for w in cfg.optim_wrapper.values()
                    if isinstance(w, dict) and 'optimizer' in w]
        assert len(wrappers) == 2
        for w in wrappers:
            assert w['type'] == 'AmpOptimWrapper' and w['dtype'] == dtype
            assert w['loss_scale'] == scale


def test_bf16_training_step_without_loss_scaling():
    from nlcl_plugin.benchmarks.train import build_nlcl, nlcl_batch
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model, optims = build_nlcl(torch.device('cpu'), 'bf16',
                                   {k: v for k, v in SMALL.items() if k.startswith('model.')})
    for name in ('generator', 'discriminator'):
        w = optims[name]
        assert type(w).__name__ == 'AmpOptimWrapper' and w.cast_dtype == torch.bfloat16
        assert not w.loss_scaler.is_enabled()
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    logs = model.train_step(nlcl_batch(1, 32), optims)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in logs.values())
    changed = [n for n, p in model.named_parameters()
               if p.requires_grad and not torch.equal(p.detach(), before[n])]
    assert any(n.startswith('generator.') for n in changed)
    assert any(n.startswith('discriminator.') for n in changed)


def test_train_tool_arguments():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import train
    parse = train.parse_args
    assert parse([DEMO]).amp is False and parse([DEMO]).compile is None
    assert parse([DEMO, '--amp']).amp is True
    assert parse([DEMO, '--amp', 'bf16']).amp == 'bf16'
    assert parse([DEMO, '--compile']).compile is True
    assert parse([DEMO, '--compile', 'reduce-overhead', '--amp', 'fp16']).compile == \
        'reduce-overhead'
    for bad in (['--amp', 'fp8'], ['--compile', 'fast']):
        with pytest.raises(SystemExit):
            parse([DEMO, *bad])


@pytest.mark.skipif(torch.cuda.is_available(), reason='fp16 AMP is refused only without CUDA')
def test_train_tool_refuses_fp16_on_cpu(tmp_path, capsys):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import train
    assert train.main([DEMO, '--amp', 'fp16', '--work-dir', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('error: --amp fp16 needs a CUDA device')


@pytest.mark.skipif(torch.cuda.is_available(), reason='the note is printed on CPUs')
def test_train_tool_says_compile_is_slow_on_a_cpu(tmp_path, capsys):
    """``tools/train.py --compile`` on a CPU says when it starts that compiling costs
    minutes and the compiled step is no faster there (no iteration is run here)."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import train
    opts = [f'{k}={"None" if v is None else v}' for k, v in SMALL.items()
            if not k.startswith('model.')]
    assert train.main([DEMO, '--compile', '--work-dir', str(tmp_path), '--cfg-options',
                       'train_cfg.max_iters=0', *opts]) == 0
    err = capsys.readouterr().err
    assert train.CPU_COMPILE_NOTE in err


def test_derainer_with_compile_gives_the_eager_image():
    """Derainer(compile=...) runs the whole-image path through torch.compile (here
    dynamo's capture without code generation): the same image as the eager path."""
    import numpy as np

    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.models import DecompositionGenerator
    torch.manual_seed(0)
    net = DecompositionGenerator(num_blocks=2, mid_channels=8)
    rgb = np.random.default_rng(0).integers(0, 256, (40, 48, 3)).astype(np.uint8)
    torch._dynamo.reset()
    compiled = Derainer(net, tile=0, compile=dict(backend='eager'))
    out = compiled(rgb)[0]
    assert len(compiled._compiled) == 1
    assert np.abs(out.astype(int) - Derainer(net, tile=0)(rgb)[0].astype(int)).max() <= 1
    assert Derainer(net, compile='max-autotune').compile == dict(mode='max-autotune')
    with pytest.raises(ValueError):
        Derainer(net, compile=3)
    torch._dynamo.reset()
