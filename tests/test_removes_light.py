"""G_B that only removes light (``removes_light=True``): B = O - (softplus(net(O)) - ln2/beta)."""
import math

import numpy as np
import pytest
import torch

from nlcl_plugin.inference import Derainer
from nlcl_plugin.models.checkpoint import build_generator
from nlcl_plugin.models.generator import (REMOVES_LIGHT_MARKER, RESIDUAL_MARKER,
                                          DecompositionGenerator)


def _small(**kw):
    return DecompositionGenerator(mid_channels=8, num_blocks=2, residual=True, **kw)


def test_starts_at_the_identity_and_is_the_formula():
    torch.manual_seed(0)
    g = _small(zero_init_output=True, removes_light=True)
    x = torch.rand(2, 3, 16, 12) * 2 - 1
    assert torch.equal(g(x), x)  # softplus(0) - ln 2 / beta = 0
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    plain = DecompositionGenerator(mid_channels=8, num_blocks=2)
    plain.load_state_dict({k: v for k, v in g.state_dict().items()
                           if k not in (RESIDUAL_MARKER, REMOVES_LIGHT_MARKER)})
    z = plain(x).double()
    by_hand = x.double() - (torch.log1p(torch.exp(50.0 * z)) / 50.0 - math.log(2.0) / 50.0)
    torch.testing.assert_close(g(x).double(), by_hand, atol=1e-5, rtol=0)


def test_removes_light_and_adds_almost_none():
    """Whatever the weights, B <= O + ln2/beta; large outputs remove about net(O)."""
    torch.manual_seed(1)
    g = _small(removes_light=True, removal_sharpness=20.0)
    torch.nn.init.normal_(g.layers[-1].weight, std=2.0)
    x = torch.rand(1, 3, 24, 24) * 2 - 1
    b = g(x)
    assert (b - x).max() <= math.log(2.0) / 20.0 + 1e-6
    assert (x - b).max() > 0.5  # and it does remove light where the network asks
    plain_residual = _small()
    plain_residual.load_state_dict({k: v for k, v in g.state_dict().items()
                                    if k != REMOVES_LIGHT_MARKER})
    assert (plain_residual(x) - x).max() > 0.5  # the additive residual would add light


def test_bad_options():
    with pytest.raises(ValueError, match='needs residual=True'):
        DecompositionGenerator(removes_light=True)
    with pytest.raises(ValueError, match='removal_sharpness'):
        _small(removes_light=True, removal_sharpness=0.0)
    assert REMOVES_LIGHT_MARKER not in _small().state_dict()
    assert _small(removes_light=True).options()['removes_light'] is True


def assert_travels_with_the_weights(g_b, tmp_path, tile):
    """Save ``g_b`` as a training checkpoint's G_B; the generator built from the file
    computes what ``g_b`` does, and the derainer (whole-image, or streamed in bands of
    ``tile`` rows) gives its output to one grey level. Returns the built generator."""
    ckpt = tmp_path / 'g.pth'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in g_b.state_dict().items()}},
               ckpt)
    built = build_generator(str(ckpt), 'background')
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    torch.testing.assert_close(built(x), g_b(x))
    derainer = Derainer.from_checkpoints(str(ckpt), tile=tile)
    rgb = np.random.default_rng(0).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    out, _ = derainer(rgb)
    xin = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        ref = ((g_b(xin).clamp(-1, 1) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    # the tensor path (used by evaluation) gives the three channels of B, tiled or not
    with torch.no_grad():
        torch.testing.assert_close(derainer.forward_tensor(derainer.background, xin),
                                   g_b(xin), atol=1e-4, rtol=0)
    return built


@pytest.mark.parametrize('tile', [0, 5])
def test_the_form_travels_with_the_weights(tmp_path, tile):
    """A checkpoint builds the same generator (sharpness included), and the derainer,
    whole-image or tiled, computes what the network computes."""
    torch.manual_seed(2)
    g_b = _small(removes_light=True, removal_sharpness=30.0)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.removes_light and built.removal_sharpness == 30.0
