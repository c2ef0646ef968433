"""Channels-last on CUDA, tested on the CPU: the layout-keeping InstanceNorm in every dtype
CUDA runs it in, the per-device layout choice, and a training step with the networks'
weights and the images in channels-last (what a CUDA step gets) against the default."""
import os
import subprocess
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from nlcl_plugin.models import fast_ops
from nlcl_plugin.models.fast_ops import (channels_last, channels_last_enabled, fast_paths,
                                         layout_keeping_instance_norm, memory_format_for,
                                         preferred_format, to_network_format, weight_format)

CL = torch.channels_last


def _stand_in(device: str, dtype: torch.dtype):
    """What preferred_format reads of a tensor, for a device this machine lacks."""
    return types.SimpleNamespace(dim=lambda: 4, device=torch.device(device), dtype=dtype)


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 2e-5), (torch.float64, 1e-10),
                                       (torch.float16, 4e-3), (torch.bfloat16, 3e-2)])
@pytest.mark.parametrize('layout', [CL, torch.contiguous_format])
def test_layout_keeping_instance_norm(dtype, tol, layout):
    """Values and gradients equal float64 F.instance_norm's (to the dtype's rounding); the
    output and the input gradient keep the input's layout and dtype."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(2, 5, 7, 6, generator=g, dtype=torch.float64) * 3 + 1
    weight = torch.randn(2, 5, 7, 6, generator=g, dtype=torch.float64)
    ref_x = base.clone().requires_grad_()
    ref = F.instance_norm(ref_x, eps=1e-5)
    (ref * weight).sum().backward()

    x = base.to(dtype).contiguous(memory_format=layout).requires_grad_()
    y = layout_keeping_instance_norm(x)
    assert y.dtype == dtype
    assert y.is_contiguous(memory_format=layout)
    (y * weight.to(dtype)).sum().backward()
    assert x.grad.dtype == dtype and x.grad.is_contiguous(memory_format=layout)
    assert (y.double() - ref).abs().max() <= tol * 4
    # gradients are small differences of O(1) terms: relative to their own scale
    scale = ref_x.grad.abs().max()
    assert (x.grad.double() - ref_x.grad).abs().max() <= tol * 8 * max(1.0, float(scale))


def test_layout_keeping_instance_norm_rejects_a_single_pixel():
    with pytest.raises(ValueError):
        layout_keeping_instance_norm(torch.zeros(1, 3, 1, 1))


def test_layout_choice_per_device():
    assert channels_last_enabled('cpu')
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        assert preferred_format(_stand_in('cuda', dtype)) is CL
    assert preferred_format(_stand_in('cuda', torch.float64)) is torch.contiguous_format
    assert preferred_format(_stand_in('cpu', torch.float16)) is torch.contiguous_format
    assert memory_format_for('cpu') is CL
    assert weight_format('cuda') is CL and weight_format('cpu') is torch.contiguous_format
    with channels_last('cuda', False):
        assert not channels_last_enabled('cuda')
        assert preferred_format(_stand_in('cuda', torch.float32)) is torch.contiguous_format
        assert weight_format('cuda') is torch.contiguous_format
    assert channels_last_enabled('cuda')
    with fast_paths(False):
        assert preferred_format(_stand_in('cuda', torch.float32)) is torch.contiguous_format
        assert memory_format_for('cpu') is torch.contiguous_format
    with pytest.raises(ValueError):
        fast_ops.set_channels_last('tpu', True)
    x = torch.zeros(1, 3, 4, 4)
    assert to_network_format(x) is x  # on CPU each convolution converts its own input


def test_channels_last_on_cuda_can_be_switched_off_from_the_environment():
    code = ('from nlcl_plugin.models.fast_ops import channels_last_enabled as e; '
            'print(e("cuda"), e("cpu"))')
    env = dict(os.environ, NLCL_CUDA_CHANNELS_LAST='0')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['False', 'True']


def test_training_step_in_the_cuda_layout_gives_the_same_losses(monkeypatch):
    """The layout a CUDA step runs in (convolution weights and images channels-last, set
    when the model is moved to the device), here on the CPU, against the default CPU
    layout: same losses over three steps, to float32 rounding."""
    from nlcl_plugin.benchmarks.train import build_nlcl, nlcl_batch

    def run(cuda_layout: bool):
        if cuda_layout:
            monkeypatch.setattr(fast_ops, '_WHOLE_STEP_CHANNELS_LAST', ('cpu', 'cuda'))
        model, optims = build_nlcl(torch.device('cpu'), False)  # .to(device) inside
        convs = [m for m in model.modules() if isinstance(m, fast_ops.Conv2d)]
        assert convs and all(m.weight.is_contiguous(memory_format=CL) == cuda_layout
                             for m in convs if m.weight.shape[1] > 1)
        seen = []
        hook = model.generator.layers[0].register_forward_pre_hook(
            lambda m, args: seen.append(args[0].is_contiguous(memory_format=CL)))
        logs = [model.train_step(nlcl_batch(1, 32, i), optims) for i in range(3)]
        hook.remove()
        monkeypatch.undo()
        return [{k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in log.items()}
                for log in logs], seen

    ref, ref_seen = run(False)
    out, seen = run(True)
    assert all(seen) and not any(ref_seen)  # the images reach G_B channels-last only then
    for step, (a, b) in enumerate(zip(ref, out)):
        assert a.keys() == b.keys()
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=1e-5, abs=1e-7), (step, k)
