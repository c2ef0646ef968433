"""Options beyond the paper: residual background, zero-initialised outputs, frozen
layer-loss heads; and the release files they are shipped in."""
import glob
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from nlcl_plugin.inference import Derainer
from nlcl_plugin.models import DecompositionGenerator
from nlcl_plugin.models.checkpoint import build_generator, load_generator
from nlcl_plugin.models.generator import RESIDUAL_MARKER
from nlcl_plugin.models.losses import LayerContrastiveLoss
from nlcl_plugin.models.objective import NLCLObjective


class _LSGAN(torch.nn.Module):
    def forward(self, pred, target_is_real, is_disc=False):
        return ((pred - float(target_is_real)) ** 2).mean()


@pytest.mark.parametrize('grad', [True, False])
def test_residual_zero_init_generator_is_exactly_the_identity(grad):
    torch.manual_seed(0)
    g = DecompositionGenerator(residual=True, zero_init_output=True)
    x = torch.rand(2, 3, 24, 20) * 2 - 1
    with torch.set_grad_enabled(grad):
        assert torch.equal(g(x), x)
    plain = DecompositionGenerator(zero_init_output=True)
    assert torch.equal(plain(x), torch.zeros_like(x))
    # off by default: the authors' form, with PyTorch's initialisation
    default = DecompositionGenerator()
    assert not default.residual and RESIDUAL_MARKER not in default.state_dict()
    assert default.layers[-1].weight.abs().sum() > 0
    with pytest.raises(ValueError, match='in_channels == out_channels'):
        DecompositionGenerator(in_channels=3, out_channels=1, residual=True)


def test_residual_generator_learns_a_correction():
    """After one step away from zero, G(x) - x is what the plain network computes."""
    torch.manual_seed(0)
    g = DecompositionGenerator(residual=True, zero_init_output=True, mid_channels=8,
                               num_blocks=2)
    plain = DecompositionGenerator(mid_channels=8, num_blocks=2)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.1)
    plain.load_state_dict({k: v for k, v in g.state_dict().items() if k != RESIDUAL_MARKER})
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(g(x) - x, plain(x))


def test_nlcl_starts_at_b_equals_o_and_r_zero():
    from nlcl_plugin.models.decomposition import decompose
    g_b = DecompositionGenerator(residual=True, zero_init_output=True)
    g_r = DecompositionGenerator(zero_init_output=True)
    o = torch.rand(1, 3, 32, 32) * 2 - 1
    clean = torch.rand(1, 3, 32, 32) * 2 - 1
    b, r, identity = decompose(g_b, g_r, o, clean)
    assert torch.equal(b, o) and torch.equal(r, torch.zeros_like(o))
    assert torch.equal(identity, clean)


def test_residual_form_travels_with_the_weights(tmp_path):
    torch.manual_seed(1)
    g_b = DecompositionGenerator(residual=True, mid_channels=8, num_blocks=2)
    g_r = DecompositionGenerator(mid_channels=8, num_blocks=2)
    ckpt = tmp_path / 'iter_1.pth'
    state = {**{f'generator.{k}': v for k, v in g_b.state_dict().items()},
             **{f'rain_generator.{k}': v for k, v in g_r.state_dict().items()}}
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    b = build_generator(str(ckpt), 'background')
    r = build_generator(str(ckpt), 'rain')
    assert b.residual and not r.residual
    assert (b.mid_channels, b.num_blocks) == (8, 2)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(b(x), g_b(x))
    # a residual file does not load silently into the plain form
    with pytest.raises(Exception, match='does not match'):
        load_generator(DecompositionGenerator(mid_channels=8, num_blocks=2), str(ckpt))


@pytest.mark.parametrize('tile', [0, 5])
def test_derainer_honours_the_residual_form(tmp_path, tile):
    torch.manual_seed(2)
    g_b = DecompositionGenerator(residual=True, mid_channels=8, num_blocks=2)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.02)
    ckpt = tmp_path / 'g.pth'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in g_b.state_dict().items()}},
               ckpt)
    derainer = Derainer.from_checkpoints(str(ckpt), tile=tile)
    rgb = np.random.default_rng(0).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    out, _ = derainer(rgb)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        ref = ((g_b(x).clamp(-1, 1) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_official_weights_load_into_the_plain_form_and_match(official_dir):
    path = osp.join(official_dir, 'checkpoints', 'latest_net_Back.pth')
    built = build_generator(path, 'background')
    assert not built.residual
    ref = load_generator(DecompositionGenerator(), path)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(built(x), ref(x))


def _objective(layer_heads):
    torch.manual_seed(0)
    return NLCLObjective(gan_loss=_LSGAN(), layer_loss=LayerContrastiveLoss(),
                         disc_channels=(8, 8, 8, 8), num_bg_patches=8, num_rain_patches=16,
                         layer_heads=layer_heads)


def test_frozen_heads_keep_the_layer_loss_above_its_floor_with_gradient():
    """Where learned heads have driven the layer loss to its floor (no gradient left for
    the features), the same loss through frozen heads is above the floor and sends a
    gradient into the features."""
    torch.manual_seed(0)
    feats_bg = [torch.randn(1, 8, 24, 24) for _ in range(4)]
    feats_rain = [torch.randn(1, 8, 24, 24) for _ in range(4)]
    bg, rain = torch.randn(1, 3, 24, 24), torch.randn(1, 3, 24, 24)

    def loss_and_grad(obj):
        fb = [f.clone().requires_grad_(True) for f in feats_bg]
        fr = [f.clone().requires_grad_(True) for f in feats_rain]
        loss = obj.layer_contrast(fb, fr, bg, rain, torch.Generator().manual_seed(3))
        grads = torch.autograd.grad(loss, fb + fr, allow_unused=True)
        return float(loss.detach()), sum(float(g.norm()) for g in grads if g is not None)

    learned = _objective('learned')
    heads = [p for n in ('bg_sampler', 'rain_sampler')
             for p in getattr(learned, n).parameters()]
    assert all(p.requires_grad for p in heads)
    opt = torch.optim.Adam(heads, lr=1e-2)
    for _ in range(150):  # the heads alone separate the groups
        opt.zero_grad()
        loss = learned.layer_contrast(feats_bg, feats_rain, bg, rain,
                                      torch.Generator().manual_seed(3))
        loss.backward()
        opt.step()
    floor = learned.layer_floor()
    l_learned, g_learned = loss_and_grad(learned)
    assert l_learned - floor < 1e-3 * floor

    frozen = _objective('frozen')
    assert frozen.frozen_heads() == ['bg_sampler', 'rain_sampler']
    assert not any(p.requires_grad for n in ('bg_sampler', 'rain_sampler')
                   for p in getattr(frozen, n).parameters())
    l_frozen, g_frozen = loss_and_grad(frozen)
    assert l_frozen - frozen.layer_floor() > 0.01 * frozen.layer_floor()
    assert g_frozen > 100 * g_learned


def test_layer_heads_option_is_checked():
    with pytest.raises(ValueError, match='layer_heads'):
        _objective('ema')
    with pytest.raises(ValueError, match='contradict'):
        NLCLObjective(gan_loss=_LSGAN(), layer_heads='frozen', legacy_adv_head_bug=True)


SHIPPED = sorted(glob.glob(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                    'model_zoo', '*', '*.pth')))


@pytest.mark.skipif(not SHIPPED, reason='no shipped model in model_zoo/')
@pytest.mark.parametrize('path', SHIPPED, ids=[osp.basename(p) for p in SHIPPED])
def test_shipped_model_derains_through_the_tool(repo_root, tmp_path, path):
    state = torch.load(path, map_location='cpu', weights_only=True)
    meta = state['meta']
    assert {'config', 'iter', 'seed', 'command'} <= set(meta)
    assert osp.getsize(path) < 4e6  # the two generators only
    rgb = np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    import cv2
    cv2.imwrite(str(tmp_path / 'in.png'), rgb)
    res = subprocess.run([sys.executable, osp.join(repo_root, 'tools', 'derain.py'),
                          str(tmp_path / 'in.png'), '--checkpoint', path, '--out-dir',
                          str(tmp_path / 'out'), '--save-rain'],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = cv2.imread(str(tmp_path / 'out' / 'in.png'))
    assert out.shape == rgb.shape
    assert build_generator(path, 'background').residual == ('residual=True' in meta['config'])


def test_detail_layer_is_the_image_minus_its_gaussian_base():
    from scipy.ndimage import gaussian_filter

    from nlcl_plugin.models.detail_layer import DetailLayer
    x = torch.rand(2, 3, 30, 41, dtype=torch.float64)
    layer = DetailLayer(3.0)
    # scipy's 'mirror' is torch's 'reflect' (edge not repeated); radius ceil(3 sigma)
    base = gaussian_filter(x.numpy(), sigma=(0, 0, 3, 3), mode='mirror', truncate=3.0)
    np.testing.assert_allclose(layer(x.float()).numpy(), x.numpy() - base, atol=1e-5)
    gray = DetailLayer(3.0, gray=True)
    mean = x.mean(dim=1, keepdim=True).numpy()
    ref = mean - gaussian_filter(mean, sigma=(0, 0, 3, 3), mode='mirror', truncate=3.0)
    np.testing.assert_allclose(gray(x.float()).numpy(), np.repeat(ref, 3, axis=1), atol=1e-5)
    # what judges the grey detail layer cannot tint: the same gradient for every channel
    xg = torch.rand(1, 3, 20, 20, requires_grad=True)
    (gray(xg) * torch.randn(1, 3, 20, 20)).sum().backward()
    assert torch.equal(xg.grad[:, 0], xg.grad[:, 1]) and torch.equal(xg.grad[:, 0], xg.grad[:, 2])
    flat = torch.full((1, 3, 8, 5), 0.3)  # smaller than the kernel: replicate padding
    assert torch.allclose(layer(flat), torch.zeros_like(flat), atol=1e-6)
    assert layer(torch.rand(1, 3, 1, 1)).shape == (1, 3, 1, 1)
    assert not dict(layer.state_dict())  # nothing in checkpoints
    with pytest.raises(ValueError, match='sigma'):
        DetailLayer(0)


def test_discriminator_sees_the_detail_layer_when_asked():
    from nlcl_plugin.models.detail_layer import DetailLayer

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x):
            self.seen.append(x.detach().clone())
            return x.mean(dim=1, keepdim=True)

    fake, clean = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    x = torch.cat([fake, clean])
    gray = x.mean(dim=1, keepdim=True)
    from nlcl_plugin.models.streak_light import streak_light
    gray_views = {  # references written out with the detail layer's own test above
        'gray': lambda x: gray.repeat(1, 3, 1, 1),
        'gray_streak_light': lambda x: streak_light(gray, 7, 21).repeat(1, 3, 1, 1),
        'gray_tone_detail': lambda x: torch.cat(
            [gray, DetailLayer(3.0)(gray).repeat(1, 2, 1, 1)], dim=1)}
    for mode, view in (('image', torch.nn.Identity()), ('detail', DetailLayer(3.0)),
                       ('gray_detail', DetailLayer(3.0, gray=True)), *gray_views.items()):
        obj = NLCLObjective(gan_loss=_LSGAN(), disc_input=mode)
        rec = Recorder()
        obj.discriminator_loss(rec, fake, clean)
        seen = torch.cat(rec.seen)
        torch.testing.assert_close(seen, view(torch.cat([fake, clean])))
    with pytest.raises(ValueError, match='disc_input'):
        NLCLObjective(gan_loss=_LSGAN(), disc_input='edges')


@pytest.mark.parametrize('mode', ['gray', 'gray_tone_detail', 'gray_streak_light'])
def test_grey_views_cannot_tint(mode):
    """Whatever judges a grey view sends the same gradient to the three channels."""
    obj = NLCLObjective(gan_loss=_LSGAN(), disc_input=mode)
    x = torch.rand(1, 3, 20, 24, requires_grad=True)
    view = obj.disc_view(x)
    assert view.shape == x.shape and not dict(obj.disc_view.state_dict())
    (view * torch.randn_like(view)).sum().backward()
    torch.testing.assert_close(x.grad[:, 0], x.grad[:, 1], rtol=0, atol=0)
    torch.testing.assert_close(x.grad[:, 0], x.grad[:, 2], rtol=0, atol=0)


def test_discriminator_without_instance_norm_keeps_names_and_taps():
    from nlcl_plugin.models.discriminator import InstanceNorm, PatchDiscriminator
    torch.manual_seed(0)
    paper, plain = PatchDiscriminator(), PatchDiscriminator(norm='none', init_gain=1.0)
    assert any(isinstance(m, InstanceNorm) for m in paper.modules())
    assert not any(isinstance(m, InstanceNorm) for m in plain.modules())
    assert paper.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(2, 3, 48, 48)
    feats_p = paper.forward_features(x)
    feats_n = plain.forward_features(x)
    assert [f.shape for f in feats_p] == [f.shape for f in feats_n]
    assert plain(x).shape == paper(x).shape
    # With instance normalisation (zero biases, as initialised; weights large enough
    # for eps not to matter) D is blind to how strong an image's texture is:
    # D(2x) = D(x), so a stronger streak texture over the whole image is invisible to
    # it. Without instance normalisation it is not.
    normed = PatchDiscriminator(init_gain=1.0)
    def change(net):
        with torch.no_grad():
            out = net(x)
            return float((net(2 * x) - out).abs().max() / out.abs().max())

    assert change(normed) < 0.01 and change(plain) > 0.1
    with pytest.raises(ValueError, match='norm'):
        PatchDiscriminator(norm='batch')


def test_intrinsic_dimension_hook_skips_a_layer_without_one():
    """R = 0 at the start (zero-initialised G_R) has no intrinsic dimension: only B's is
    logged, and it equals the estimator's value on B."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from nlcl_plugin.mmagic.hooks.intrinsic_dimension_hook import IntrinsicDimensionHook
    from nlcl_plugin.models.intrinsic_dim import patch_group_intrinsic_dim

    class _Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.generator = DecompositionGenerator(residual=True, zero_init_output=True,
                                                    mid_channels=8, num_blocks=1)
            self.rain_generator = DecompositionGenerator(zero_init_output=True,
                                                         mid_channels=8, num_blocks=1)

        def data_preprocessor(self, data, training):
            return dict(inputs=data['inputs'])

    class _Visualizer:
        def __init__(self):
            self.logged = []

        def add_scalars(self, values, step):
            self.logged.append((dict(values), step))

    torch.manual_seed(0)
    rainy = torch.rand(1, 3, 48, 48) * 2 - 1
    hub = MessageHub.get_instance('test_intrinsic_dimension_hook')
    runner = SimpleNamespace(model=_Model(), iter=1, message_hub=hub,
                             visualizer=_Visualizer())
    hook = IntrinsicDimensionHook(interval=2, num_patches=24, patch_size=8, search_size=24)
    torch.manual_seed(1)  # the anchors come from the global random source
    hook.after_train_iter(runner, 0, dict(inputs=rainy))
    (values, step), = runner.visualizer.logged
    assert step == 2 and set(values) == {'id_background'}
    torch.manual_seed(1)
    expected = float(patch_group_intrinsic_dim(rainy[0], k_patches=24, patch_size=8,
                                               search_size=24))
    assert values['id_background'] == pytest.approx(expected)
    assert 'train/id_rain' not in hub.log_scalars
