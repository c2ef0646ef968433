"""The speed paths compute what the plain code computes.

* :mod:`nlcl_plugin.models.fast_ops` (layout-keeping InstanceNorm with a closed-form
  backward, channels-last convolutions, in-place inference blocks) against the plain
  NCHW ops (``fast_paths(False)``): values and gradients agree to float32 rounding;
* the objective's shared work (one D pass on B for the adversarial term and the layer
  taps, G_B's key taps without graph) against the same terms computed one call at a
  time, as the objective did before: losses *and* every parameter gradient agree (the
  key taps recorded during the decomposition instead: tests/test_mmagic_nlcl.py);
* InstanceNorm under CPU autocast against the float32 op;
* ``Derainer`` against the plain forward with autograd recording (1 grey level), its
  opt-in reduced precision and the command-line flags (AMP training:
  tests/test_mmagic_nlcl.py, tests/test_configs_and_tools.py).
"""
import importlib.util
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nlcl_plugin.inference import Derainer, image_to_tensor, tensor_to_image
from nlcl_plugin.models import DecompositionGenerator, PatchDiscriminator
from nlcl_plugin.models.fast_ops import (fast_paths, fast_paths_enabled, instance_norm,
                                         instance_norm_, keep_freed_memory, preferred_format)
from nlcl_plugin.models.objective import NLCLObjective

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


# --------------------------------------------------------------------------- fast ops
@pytest.mark.parametrize('shape', [(1, 32, 17, 23), (2, 8, 16, 16), (3, 1, 5, 7), (1, 4, 1, 9)])
@pytest.mark.parametrize('layout', [torch.contiguous_format, torch.channels_last])
def test_instance_norm_values_and_grads_match_float64_reference(shape, layout):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * 3 + 1).contiguous(memory_format=layout)
    grad = torch.randn(shape, generator=g).contiguous(memory_format=layout)
    xd = x.double().contiguous().requires_grad_()
    ref = F.instance_norm(xd, eps=1e-5)
    ref.backward(grad.double().contiguous())
    xi = x.clone().requires_grad_()
    out = instance_norm(xi)
    assert out.shape == x.shape
    if layout is torch.channels_last and shape[1] > 1:
        assert out.is_contiguous(memory_format=torch.channels_last)  # layout kept
    out.backward(grad)
    torch.testing.assert_close(out.double(), ref.detach(), rtol=0, atol=5e-6)
    torch.testing.assert_close(xi.grad.double(), xd.grad, rtol=0, atol=5e-6)
    # the plain op, for scale: same tolerance holds for it
    torch.testing.assert_close(F.instance_norm(x).double(), ref.detach(), rtol=0, atol=5e-6)


@pytest.mark.parametrize('relu', [False, True])
@pytest.mark.parametrize('layout', [torch.contiguous_format, torch.channels_last])
def test_in_place_instance_norm(relu, layout):
    x = (torch.randn(2, 16, 300, 70) * 2 - 3).contiguous(memory_format=layout)
    ref = F.instance_norm(x.double(), eps=1e-5)
    ref = F.relu(ref) if relu else ref
    y = x.clone()
    with torch.no_grad():
        out = instance_norm_(y, relu=relu)
    assert out is y
    torch.testing.assert_close(y.double(), ref, rtol=0, atol=5e-6)
    yb = x.clone().bfloat16()
    with torch.no_grad():
        instance_norm_(yb, relu=relu)
    torch.testing.assert_close(yb.double(), ref, rtol=0, atol=0.05)  # bf16 rounding


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float32])
def test_instance_norm_under_cpu_autocast(dtype):
    """Under CPU autocast (AMP) the normalisation runs in float32 on a float32 copy of the
    input and returns float32 in the input's layout (autocast's own F.instance_norm
    returns a bf16 input's dtype, NCHW): values and gradients equal the float32 op's."""
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(2, 16, 24, 20, generator=g) * 2 + 1).to(dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    grad = torch.randn(2, 16, 24, 20, generator=g)
    xi = x.clone().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = instance_norm(xi)
        plain = F.instance_norm(x, eps=1e-5)
    out.backward(grad)
    xr = x.float().requires_grad_()
    ref = F.instance_norm(xr, eps=1e-5)
    ref.backward(grad)
    assert out.dtype == torch.float32 and xi.grad.dtype == dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(xi.grad, xr.grad.to(dtype), rtol=0, atol=1e-5)
    # and within autocast's own result's rounding
    torch.testing.assert_close(out, plain.float(), rtol=0,
                               atol=2e-2 if dtype == torch.bfloat16 else 1e-5)


def test_fast_paths_switch_and_layout():
    x = torch.zeros(1, 3, 4, 4)
    assert fast_paths_enabled() and preferred_format(x) is torch.channels_last
    with fast_paths(False):
        assert not fast_paths_enabled() and preferred_format(x) is torch.contiguous_format
        with fast_paths(True):
            assert fast_paths_enabled()
        assert not fast_paths_enabled()
    assert fast_paths_enabled()
    assert preferred_format(x.double()) is torch.contiguous_format
    assert isinstance(keep_freed_memory(False), bool)  # glibc defaults (a no-op elsewhere)


def _grads(module):
    return {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('batch', [1, 2])
def test_generator_and_discriminator_fast_equal_plain(batch):
    torch.manual_seed(0)
    nets = [DecompositionGenerator(mid_channels=16, num_blocks=4),
            PatchDiscriminator(base_channels=8)]
    x = torch.randn(batch, 3, 40, 36)
    for net in nets:
        results = []
        for on in (False, True):
            net.zero_grad()
            xi = x.clone().requires_grad_()
            with fast_paths(on):
                out = net(xi)
                taps = [0, 2, 4] if isinstance(net, DecompositionGenerator) else (0, 3, 7, 11)
                feats = net.forward_features(xi, taps)
                (out.square().mean() + sum(f.mean() for f in feats)).backward()
            results.append((out.detach(), [f.detach() for f in feats], xi.grad, _grads(net)))
        (o0, f0, g0, p0), (o1, f1, g1, p1) = results
        torch.testing.assert_close(o1, o0, rtol=1e-4, atol=1e-5)
        for a, b in zip(f1, f0):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(g1, g0, rtol=1e-3, atol=1e-6)
        for name in p0:
            # conv biases feeding an InstanceNorm have a zero gradient in exact arithmetic
            # (both sides hold rounding noise): bias gradients are compared on the scale of
            # their layer's weight gradient
            ref_name = name[:-len('bias')] + 'weight' if name.endswith('bias') else name
            scale = float(p0[ref_name].abs().max()) + 1e-12
            torch.testing.assert_close(p1[name] / scale, p0[name] / scale, rtol=0, atol=2e-4,
                                       msg=name)
    with torch.no_grad(), torch.inference_mode():  # in-place inference blocks
        g = nets[0]
        with fast_paths(False):
            ref = g(x)
        torch.testing.assert_close(g(x), ref, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- objective
class LSGAN(nn.Module):
    """Stand-in for the hosts' GANLoss(gan_type='lsgan')."""

    def forward(self, pred, target_is_real, is_disc=False):
        return F.mse_loss(pred, torch.full_like(pred, 1.0 if target_is_real else 0.0))


def tiny(legacy_disc_taps=False, loc_identity=True):
    torch.manual_seed(0)
    g_b = DecompositionGenerator(mid_channels=8, num_blocks=4)
    g_r = DecompositionGenerator(mid_channels=8, num_blocks=4)
    d = PatchDiscriminator(base_channels=8)
    obj = NLCLObjective(LSGAN(), gen_channels=8, disc_channels=(8, 16, 32, 64),
                        num_loc_patches=16, num_bg_patches=4, num_rain_patches=8, patch_size=8,
                        search_size=12, embed_channels=16, legacy_disc_taps=legacy_disc_taps,
                        loc_layers=(0, 1, 2, 4),
                        loc_identity=loc_identity)
    return g_b, g_r, d, obj


def reference_generator_losses(obj, g_b, d, rainy, bg, rain, clean, identity, rng):
    """The terms one call at a time, keys' taps with a graph (the previous objective)."""
    def location_loss(src, tgt):
        fs = g_b.forward_features(src, obj.loc_layers)
        ft = g_b.forward_features(tgt, obj.loc_layers)
        keys, locs = obj.loc_sampler(fs, generator=rng)
        queries, _ = obj.loc_sampler(ft, locations=locs)
        return torch.stack([obj.loc_loss(q, k) for q, k in zip(queries, keys)]).mean()

    losses = dict(loss_gan=obj.gan_loss(d(bg), True, is_disc=False))
    loc = location_loss(rainy, bg)
    if obj.loc_identity:
        loc = 0.5 * (loc + location_loss(clean, identity))
    losses['loss_loc'] = loc
    fb = d.forward_features(bg, obj.disc_layers, include_input=obj.legacy_disc_taps)
    fr = d.forward_features(rain, obj.disc_layers, include_input=obj.legacy_disc_taps)
    zb, _ = obj.bg_sampler(fb, search_map=bg, generator=rng)
    zr, _ = obj.rain_sampler(fr, search_map=rain, generator=rng)
    losses['loss_layer'] = torch.stack([obj.layer_loss(b, r) for b, r in zip(zb, zr)]).mean()
    losses['loss_consistency'] = obj.consistency_loss(bg, rain, rainy)
    losses['loss_sparsity'] = obj.sparsity_loss(rainy, bg, rain)
    return losses


@pytest.mark.parametrize('legacy_disc_taps,loc_identity', [(False, True), (True, True),
                                                          (False, False)])
def test_shared_generator_losses_equal_one_call_at_a_time(legacy_disc_taps, loc_identity):
    g_b, g_r, d, obj = tiny(legacy_disc_taps, loc_identity)
    d.requires_grad_(False)
    gen = torch.Generator().manual_seed(5)
    rainy = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    clean = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    runs = []
    for fn in (obj.generator_losses, None):
        for m in (g_b, g_r, obj):
            m.zero_grad()
        bg, rain = g_b(rainy), g_r(rainy)
        identity = g_b(clean)
        rng = torch.Generator().manual_seed(11)
        if fn is None:
            losses = reference_generator_losses(obj, g_b, d, rainy, bg, rain, clean, identity, rng)
        else:
            losses = fn(g_b, d, rainy, bg, rain, clean, identity, generator_rng=rng)
        sum(losses.values()).backward()
        grads = {f'{k}.{n}': v for k, m in (('g_b', g_b), ('g_r', g_r), ('obj', obj))
                 for n, v in _grads(m).items()}
        runs.append(({k: v.detach() for k, v in losses.items()}, grads))
    (new, new_g), (ref, ref_g) = runs
    assert new.keys() == ref.keys()
    for k in ref:
        torch.testing.assert_close(new[k], ref[k], rtol=1e-5, atol=1e-6, msg=k)
    assert new_g.keys() == ref_g.keys()
    assert any(k.startswith('obj.loc_sampler') for k in ref_g)  # heads learn via the queries
    for k in ref_g:
        ref_k = k[:-len('bias')] + 'weight' if k.endswith('bias') else k  # see above
        scale = float(ref_g[ref_k].abs().max()) + 1e-12
        torch.testing.assert_close(new_g[k] / scale, ref_g[k] / scale, rtol=0, atol=1e-4, msg=k)


def test_discriminator_scores_of_a_subset():
    torch.manual_seed(0)
    d = PatchDiscriminator(base_channels=8)
    x = torch.randn(3, 3, 40, 40)
    feats, scores = d.features_and_scores(x, (0, 3), score_samples=1)
    torch.testing.assert_close(scores, d(x[:1]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(feats[1], d.forward_features(x, (3, ))[0])
    assert d.features_and_scores(x, (0, ), score_samples=0)[1] is None


# --------------------------------------------------------------------------- derainer
def naive(net, rgb):
    with fast_paths(False), torch.enable_grad():
        return net(image_to_tensor(rgb).contiguous()).detach()


def test_derainer_matches_plain_forward_with_autograd():
    torch.manual_seed(0)
    g = DecompositionGenerator()
    rgb = np.random.default_rng(0).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    ref = naive(g, rgb)
    for tile in (None, 0):  # default (streamed on CPU) and whole image
        d = Derainer(g, threads=1, tile=tile)
        torch.testing.assert_close(d.forward_tensor(g, image_to_tensor(rgb)), ref, rtol=0,
                                   atol=1e-5)
        out = d(rgb)[0]
        assert np.abs(out.astype(int) - tensor_to_image(ref)).max() <= 1
    assert torch.get_num_threads() >= 1  # restored after the call


def test_reduced_precision_is_opt_in_and_close():
    torch.manual_seed(0)
    g = DecompositionGenerator(mid_channels=16, num_blocks=4)
    rgb = np.random.default_rng(1).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    assert Derainer(g).precision == 'fp32'
    fp32 = Derainer(g)(rgb)[0].astype(np.float64)
    for tile in (None, 0):
        bf16 = Derainer(g, precision='bf16', tile=tile)(rgb)[0].astype(np.float64)
        assert bf16.shape == fp32.shape
        assert np.abs(bf16 - fp32).mean() < 2.0  # grey levels
    with pytest.raises(ValueError, match='fp16'):
        Derainer(g, precision='fp16')  # CPU
    with pytest.raises(ValueError, match='precision'):
        Derainer(g, precision='int8')


# --------------------------------------------------------------------------- tools
def _checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'plugin.pth'
    state = {f'generator.{k}': v for k, v in DecompositionGenerator().state_dict().items()}
    torch.save({'state_dict': state}, path)
    return path


def test_derain_tool_tile_and_precision_flags(tmp_path):
    import cv2
    ckpt = _checkpoint(tmp_path)
    rgb = np.random.default_rng(0).integers(0, 256, (29, 35, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), rgb[:, :, ::-1])
    tool = osp.join(REPO, 'tools', 'derain.py')
    res = subprocess.run([sys.executable, tool, str(tmp_path / 'a.png'), '--checkpoint', str(ckpt),
                          '--out-dir', str(tmp_path / 'o'), '--tile', '6', '--no-progress'],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = cv2.imread(str(tmp_path / 'o' / 'a.png'))[:, :, ::-1]
    whole = Derainer.from_checkpoints(str(ckpt), tile=0)(rgb)[0]
    assert np.abs(out.astype(int) - whole).max() <= 1
    res = subprocess.run([sys.executable, tool, str(tmp_path / 'a.png'), '--checkpoint', str(ckpt),
                          '--out-dir', str(tmp_path / 'o'), '--precision', 'fp16'],
                         capture_output=True, text=True)
    assert res.returncode == 2 and 'fp16 needs a CUDA device' in res.stderr


def test_benchmark_cuda_without_gpu_is_a_clear_error(capsys):
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    spec = importlib.util.spec_from_file_location('nlcl_benchmark',
                                                  osp.join(REPO, 'tools', 'benchmark.py'))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit):
        bench.parse_args(['--device', 'cuda'])
    assert 'CUDA is not available' in capsys.readouterr().err
    assert {'sampler', 'train', 'inference', 'tiling'} <= set(bench.SECTIONS)


def test_split_batch_gradients_equal_slicing():
    """split_batch's halves and their gradients equal x[:n] and x[n:]'s, in x's layout."""
    from nlcl_plugin.models.fast_ops import split_batch
    torch.manual_seed(0)
    base = torch.randn(3, 4, 6, 5)
    wa, wb = torch.randn(1, 4, 6, 5), torch.randn(2, 4, 6, 5)
    leaf = base.clone().requires_grad_()
    x = leaf.contiguous(memory_format=torch.channels_last)  # a layer's output
    seen = []
    x.register_hook(seen.append)  # the gradient as the layer's backward receives it
    ref = base.clone().requires_grad_()
    a, b = split_batch(x, 1)
    assert torch.equal(a, ref[:1]) and torch.equal(b, ref[1:])
    cl = torch.channels_last
    ((a * wa.contiguous(memory_format=cl)).sum() + (b * wb.contiguous(memory_format=cl)).sum()).backward()
    ((ref[:1] * wa).sum() + (ref[1:] * wb).sum()).backward()
    assert torch.equal(leaf.grad, ref.grad)
    assert seen[0].is_contiguous(memory_format=cl)
