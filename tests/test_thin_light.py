"""G_B that also removes a learned share of the thin light (``thin_light_size``) and whose
other removal is a smooth veil (``veil_scale``), achromatic (``grey_light``) or a composited
grey layer (``airlight``)."""
import math

import cv2
import numpy as np
import pytest
import torch

from nlcl_plugin.models.generator import (AIRLIGHT_MARKER, GREY_LIGHT_MARKER,
                                          THIN_LIGHT_MARKER, VEIL_MARKER,
                                          DecompositionGenerator)
from nlcl_plugin.models.thin_light import opening, white_top_hat
from test_removes_light import assert_travels_with_the_weights


def _small(**kw):
    return DecompositionGenerator(mid_channels=8, num_blocks=2, residual=True,
                                  removes_light=True, **kw)


def last_layer_output(g, x):
    """The output of ``g``'s last conv for ``x``, before the form combines it (float64)."""
    z = x
    for layer in g.layers:
        z = layer(z)
    return z.double()


def removed_by_hand(v, beta):
    """``light_removed`` written out: softplus(v; beta) - ln 2 / beta."""
    return torch.log1p(torch.exp(beta * v)) / beta - math.log(2.0) / beta


@pytest.mark.parametrize('size', [3, 5, 7])
def test_opening_is_opencv_grey_opening(size):
    """Against OpenCV's morphology with a square element and replicated borders."""
    x = torch.rand(2, 3, 23, 31)
    se = np.ones((size, size), np.uint8)
    ref = np.stack([[cv2.morphologyEx(x[n, c].numpy(), cv2.MORPH_OPEN, se,
                                      borderType=cv2.BORDER_REPLICATE) for c in range(3)]
                    for n in range(2)])
    np.testing.assert_array_equal(opening(x, size).numpy(), ref)


def test_top_hat_keeps_thin_bright_structures_only():
    """A 2-pixel bright line is kept whole; a 12-pixel bright bar, a dark line and a step
    edge give nothing."""
    x = torch.zeros(1, 1, 40, 40)
    x[..., 5:7, :] = 0.8        # thin bright line
    x[..., 15:27, :] = 0.5      # broad bright bar
    x[..., :, 30:] += 0.3       # step edge
    x[..., 33:35, :] -= 0.4     # thin dark line
    t = white_top_hat(x, 5)
    assert t.min() >= 0
    torch.testing.assert_close(t[..., 5:7, :], torch.full_like(t[..., 5:7, :], 0.8))
    assert t[..., 8:, :].abs().max() == 0
    with pytest.raises(ValueError, match='odd size'):
        white_top_hat(x, 4)


def test_starts_at_the_identity_and_is_the_formula():
    torch.manual_seed(0)
    g = _small(zero_init_output=True, thin_light_size=5, veil_scale=4)
    x = torch.rand(2, 3, 18, 13) * 2 - 1
    assert torch.equal(g(x), x)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)
    assert z.shape[1] == 4  # three channels of light, one mask

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    # veil by hand: block means over 4x4 blocks (the last ones partial), bilinear back
    light = z[:, :3]
    coarse = torch.zeros(2, 3, 5, 4, dtype=torch.float64)
    for i in range(5):
        for j in range(4):
            coarse[:, :, i, j] = light[:, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4].mean((2, 3))
    veil = torch.nn.functional.interpolate(coarse, size=(18, 13), mode='bilinear',
                                           align_corners=False)
    mask = removed(z[:, 3:4]).clamp(max=1)
    by_hand = x.double() - removed(veil) - mask * white_top_hat(x.double(), 5)
    torch.testing.assert_close(g(x).double(), by_hand, atol=1e-5, rtol=0)


def test_a_full_mask_takes_the_thin_light_away():
    """With the mask at 1 and no veil removed, B is the opening of O."""
    g = _small(zero_init_output=True, thin_light_size=5)
    with torch.no_grad():
        g.layers[-1].bias[3] = 10.0   # mask min(softplus(10), 1) = 1
        g.layers[-1].bias[:3] = -10.0  # no other light removed (softplus(-10 * 50) ~ 0)
    x = torch.rand(1, 3, 20, 20) * 2 - 1
    torch.testing.assert_close(g(x), opening(x, 5) + math.log(2.0) / 50, atol=1e-5, rtol=0)


def test_bad_options():
    with pytest.raises(ValueError, match='needs removes_light'):
        DecompositionGenerator(residual=True, thin_light_size=5)
    with pytest.raises(ValueError, match='needs removes_light'):
        DecompositionGenerator(residual=True, veil_scale=8)
    with pytest.raises(ValueError, match='odd size'):
        _small(thin_light_size=6)
    for bad in (-1, 1):
        with pytest.raises(ValueError, match='veil_scale'):
            _small(veil_scale=bad)
    sd = _small().state_dict()
    assert THIN_LIGHT_MARKER not in sd and VEIL_MARKER not in sd
    assert _small(thin_light_size=7).options()['thin_light_size'] == 7


@pytest.mark.parametrize('tile', [0, 5])
def test_the_form_travels_with_the_weights(tmp_path, tile):
    """A checkpoint builds the same generator, and the derainer, whole-image or streamed
    in bands (whose outputs need rows beyond the band), computes what the network does."""
    torch.manual_seed(2)
    g_b = _small(thin_light_size=5, veil_scale=6)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert (built.thin_light_size, built.veil_scale) == (5, 6)


def test_grey_light_takes_the_same_light_from_every_colour():
    """``grey_light``: one channel of light (and the mask), by hand; without the thin light
    O - B is equal across R, G and B, so no colour cast can come from it."""
    torch.manual_seed(3)
    g = _small(zero_init_output=True, thin_light_size=5, grey_light=True)
    x = torch.rand(2, 3, 14, 17) * 2 - 1
    assert torch.equal(g(x), x)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)
    assert z.shape[1] == 2  # one channel of light, one mask

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    by_hand = (x.double() - removed(z[:, :1])
               - removed(z[:, 1:2]).clamp(max=1) * white_top_hat(x.double(), 5))
    torch.testing.assert_close(g(x).double(), by_hand, atol=1e-5, rtol=0)

    plain = _small(grey_light=True)
    torch.nn.init.normal_(plain.layers[-1].weight, std=0.5)
    taken = x - plain(x)
    assert taken.abs().max() > 0.01
    torch.testing.assert_close(taken[:, 1:], taken[:, :1].expand(-1, 2, -1, -1))
    with pytest.raises(ValueError, match='grey_light needs removes_light'):
        DecompositionGenerator(residual=True, grey_light=True)
    assert GREY_LIGHT_MARKER not in _small().state_dict()


@pytest.mark.parametrize('tile', [0, 5])
def test_grey_light_travels_with_the_weights(tmp_path, tile):
    torch.manual_seed(4)
    g_b = _small(thin_light_size=3, grey_light=True)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.grey_light and built.options()['grey_light']


def test_airlight_inverts_a_grey_layer_composited_over_the_background():
    """``airlight``: by hand; with opacity a and grey level A set through the biases, a
    background composited as (1 - a) B + a A (haze) comes back exactly, and a grey pixel
    stays grey whatever the network says."""
    torch.manual_seed(5)
    g = _small(zero_init_output=True, thin_light_size=5, airlight=True)
    x = torch.rand(2, 3, 12, 15) * 2 - 1
    assert torch.equal(g(x), x)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)
    assert z.shape[1] == 3  # opacity, grey level, mask

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    a = removed(z[:, :1]).clamp(max=0.9)
    thin = removed(z[:, 2:3]).clamp(max=1) * white_top_hat(x.double(), 5)
    by_hand = (x.double() - thin - a * torch.tanh(z[:, 1:2])) / (1 - a)
    torch.testing.assert_close(g(x).double(), by_hand, atol=1e-5, rtol=0)

    grey = x[:, :1].expand(-1, 3, -1, -1)
    out = g(grey)
    torch.testing.assert_close(out[:, 1:], out[:, :1].expand(-1, 2, -1, -1))

    plain = _small(zero_init_output=True, airlight=True)
    opacity, level = 0.3, 0.6
    with torch.no_grad():
        # softplus(z; 50) - ln2/50 = 0.3 and tanh(z) = 0.6, through the biases alone
        plain.layers[-1].bias[0] = math.log(math.expm1(50 * (opacity + math.log(2) / 50))) / 50
        plain.layers[-1].bias[1] = math.atanh(level)
    background = torch.rand(1, 3, 10, 10) * 2 - 1
    hazy = (1 - opacity) * background + opacity * level
    torch.testing.assert_close(plain(hazy), background, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='airlight needs removes_light'):
        DecompositionGenerator(residual=True, airlight=True)
    with pytest.raises(ValueError, match='choose one'):
        _small(airlight=True, grey_light=True)


@pytest.mark.parametrize('tile', [0, 5])
def test_airlight_travels_with_the_weights(tmp_path, tile):
    torch.manual_seed(6)
    g_b = _small(thin_light_size=3, airlight=True)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.airlight and built.options()['airlight']
    plain = _small(airlight=True)
    assert plain.combines_rowwise and AIRLIGHT_MARKER in plain.state_dict()
    torch.nn.init.normal_(plain.layers[-1].weight, std=0.1)
    assert_travels_with_the_weights(plain, tmp_path, tile)


@pytest.mark.parametrize('share', [0.3, 0.9])
def test_thin_light_init_starts_at_that_share_of_the_thin_light(share):
    """``thin_light_init=s``: at initialisation G(x) = x - s T_k(x) exactly; the mask's
    gradient is alive; the option needs the thin light and the zero initialisation."""
    g = _small(zero_init_output=True, thin_light_size=5, thin_light_init=share)
    x = torch.rand(2, 3, 14, 19) * 2 - 1
    torch.testing.assert_close(g(x), x - share * white_top_hat(x, 5), atol=1e-6, rtol=0)
    g(x).sum().backward()
    assert g.layers[-1].bias.grad[3].abs() > 0
    with pytest.raises(ValueError, match='needs thin_light_size and zero_init_output'):
        _small(thin_light_size=5, thin_light_init=0.5)
    with pytest.raises(ValueError, match=r'in \[0, 1\)'):
        _small(zero_init_output=True, thin_light_size=5, thin_light_init=1.0)
