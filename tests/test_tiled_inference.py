"""Streamed (``tile``) inference equals the whole-image forward.

The streamed path keeps whole-image InstanceNorm statistics (it runs the network layer
by layer over bands of rows), so it is not an approximation: only the order in which the
statistics are summed differs (per band, merged in float64, instead of one float32
reduction over the image). The tolerance below, 2e-5 on outputs of order 1, is a few
hundred float32 ulps; with random weights the observed difference is about 1e-6. A
mistake in the band bookkeeping (a wrong halo row, a band written before its neighbour
read it, a missing image-border padding) changes outputs by 1e-2 or more.
"""
import numpy as np
import pytest
import torch

from nlcl_plugin.inference import Derainer, image_to_tensor, streamed_forward
from nlcl_plugin.models import DecompositionGenerator
from nlcl_plugin.models.fast_ops import Moments

TOL = 2e-5


@pytest.fixture(scope='module')
def net():
    torch.manual_seed(0)
    return DecompositionGenerator(mid_channels=8, num_blocks=3).eval()


def streamed(net, x, rows):
    _, _, h, w = x.shape
    out = torch.full((1, 3, h, w), float('nan'))
    written = torch.zeros(h, dtype=torch.long)

    def write(r0, r1, band):
        out[:, :, r0:r1] = band
        written[r0:r1] += 1

    streamed_forward(net, lambda r0, r1: x[:, :, r0:r1], h, w, rows, write)
    assert torch.equal(written, torch.ones(h, dtype=torch.long))  # every row exactly once
    return out


@pytest.mark.parametrize('hw,rows', [((37, 53), 5), ((37, 53), 16), ((37, 53), 36),
                                     ((37, 53), 100), ((64, 48), 8), ((2, 9), 1),
                                     ((31, 7), 3)])
def test_streamed_equals_whole_image(net, hw, rows):
    x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[0] * 100 + rows))
    with torch.no_grad():
        ref = net(x)
    out = streamed(net, x, rows)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=TOL)


def test_streamed_band_size_does_not_matter(net):
    x = torch.randn(1, 3, 29, 41, generator=torch.Generator().manual_seed(3))
    a, b = streamed(net, x, 4), streamed(net, x, 29)
    torch.testing.assert_close(a, b, rtol=0, atol=TOL)


def test_full_size_generator_and_derainer_tile(tmp_path):
    """The real width (32 channels, 16 blocks) through Derainer: same 8-bit image."""
    torch.manual_seed(1)
    g = DecompositionGenerator().eval()
    rgb = np.random.default_rng(0).integers(0, 256, (45, 61, 3), dtype=np.uint8)
    whole = Derainer(g, tile=0)
    tiled = Derainer(g, tile=7)
    x = image_to_tensor(rgb)
    torch.testing.assert_close(tiled.forward_tensor(g, x), whole.forward_tensor(g, x), rtol=0,
                               atol=TOL)
    diff = np.abs(tiled(rgb)[0].astype(int) - whole(rgb)[0].astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01  # rare rounding ties only


def test_derainer_tile_with_rain_and_validation():
    torch.manual_seed(2)
    g_b = DecompositionGenerator(mid_channels=8, num_blocks=2)
    g_r = DecompositionGenerator(mid_channels=8, num_blocks=2)
    rgb = np.random.default_rng(1).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    bg, rain = Derainer(g_b, g_r, tile=4)(rgb)
    bg0, rain0 = Derainer(g_b, g_r, tile=0)(rgb)
    assert bg.shape == rain.shape == rgb.shape and bg.dtype == np.uint8
    assert np.abs(bg.astype(int) - bg0).max() <= 1 and np.abs(rain.astype(int) - rain0).max() <= 1
    with pytest.raises(ValueError, match='tile'):
        Derainer(g_b, tile=-1)
    assert Derainer(g_b).tile == 64 and Derainer(g_b, tile=0).tile is None  # CPU default
    # a 1x1 image is padded for the network (InstanceNorm needs more than one pixel)
    bg1, rain1 = Derainer(g_b, g_r, tile=3)(np.zeros((1, 1, 3), np.uint8))
    assert bg1.shape == rain1.shape == (1, 1, 3)


def test_moments_merge_equals_whole():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(1000, 5, generator=g, dtype=torch.float64) * 3 + 100
    m = Moments(dim=0)
    for part in torch.split(data, [1, 7, 300, 692]):
        m.add(part.float())
    mean, rstd = m.mean_rstd(eps=0.0)
    torch.testing.assert_close(mean.double(), data.float().double().mean(0, keepdim=True),
                               rtol=1e-6, atol=0)
    var = data.float().double().var(0, unbiased=False, keepdim=True)
    torch.testing.assert_close(rstd.double(), var.rsqrt(), rtol=1e-5, atol=0)
