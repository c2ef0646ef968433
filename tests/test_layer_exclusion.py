"""LayerExclusionLoss: the correlation of the removed layer's detail with the background's,
against a hand computation with scipy's Gaussian filter, and its behaviour along a
synthetic rain laid over an independent texture."""
import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from nlcl_plugin.models.detail_layer import DetailLayer
from nlcl_plugin.models.losses import LayerExclusionLoss, layer_correlation


def grey_detail(x, sigma=3.0):
    """Channel mean less its Gaussian blur (reflect-101 padding, radius ceil(3 sigma)),
    (C, H, W) -> (H, W), float64."""
    g = x.double().mean(0).numpy()
    return g - gaussian_filter(g, sigma, mode='mirror', truncate=np.ceil(3 * sigma) / sigma)


def scene(seed=0, size=48):
    """A texture t and a rain r of bright streaks along one direction, independent of t,
    both (1, 3, size, size) in the model's [-1, 1] units."""
    g = torch.Generator().manual_seed(seed)
    t = torch.nn.functional.avg_pool2d(torch.rand(1, 3, size + 2, size + 2, generator=g),
                                       3, 1) * 1.2 - 0.6
    r = torch.zeros(1, 1, size, size)
    for y0, x0 in torch.randint(0, size, (12, 2), generator=g).tolist():
        for k in range(10):
            r[0, 0, (y0 + k) % size, (x0 + k // 3) % size] = 0.5
    return t, r.expand(1, 3, size, size).clone()


@pytest.mark.parametrize('floor', [0.0, 0.05])
def test_correlation_by_hand(floor):
    torch.manual_seed(0)
    o, b = torch.rand(2, 3, 40, 36) * 2 - 1, torch.rand(2, 3, 40, 36) * 2 - 1
    got = layer_correlation(o, b, DetailLayer(3.0), floor)
    for n in range(2):
        dr, db = grey_detail(o[n] - b[n]), grey_detail(b[n])
        want = (dr * db).sum() / (np.sqrt((dr ** 2).sum() + dr.size * floor ** 2)
                                  * np.sqrt((db ** 2).sum()))
        assert float(got[n]) == pytest.approx(want, rel=1e-4, abs=1e-6)
    loss = LayerExclusionLoss(loss_weight=3.0, floor=floor, margin=-0.2)(o, b)
    assert float(loss) == pytest.approx(3.0 * float(torch.relu(got + 0.2).mean()), rel=1e-5)


def test_nothing_removed_costs_nothing():
    o = torch.rand(1, 3, 32, 32) * 2 - 1
    for floor in (0.0, 0.01):
        assert float(LayerExclusionLoss(floor=floor)(o, o.clone())) == 0.0


def test_along_the_rain_the_correlation_falls_and_texture_taken_raises_it():
    """B = O - a r: c falls as a rises (the rest of the streaks left under what was taken);
    the whole rain taken from an independent texture gives c near 0; taking the texture's
    light side as well gives c > 0 again."""
    t, r = scene()
    o = t + r
    detail = DetailLayer(3.0)
    c = [float(layer_correlation(o, o - a * r, detail)) for a in (0.1, 0.3, 0.5, 0.7, 1.0)]
    assert all(x > y for x, y in zip(c, c[1:])), c
    assert c[0] > 0.3 and abs(c[-1]) < 0.1, c
    light = torch.relu(detail(t.mean(1, keepdim=True))).expand_as(t)
    assert float(layer_correlation(o, t - 0.3 * light, detail)) > max(c[-1], 0.0)
    loss = LayerExclusionLoss(floor=0.0)
    assert float(loss(o, o - 0.3 * r)) > float(loss(o, t)) >= 0.0


def test_a_step_down_its_gradient_lowers_it():
    t, r = scene(seed=1)
    o = t + r
    b = (o - 0.3 * r).requires_grad_(True)
    loss = LayerExclusionLoss(loss_weight=1.0)
    value = loss(o, b)
    value.backward()
    assert float(value) > 0 and b.grad.abs().sum() > 0
    with torch.no_grad():
        assert float(loss(o, b - 0.05 * b.grad / b.grad.abs().max())) < float(value)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='floor'):
        LayerExclusionLoss(floor=-1.0)
    with pytest.raises(ValueError, match='margin'):
        LayerExclusionLoss(margin=1.0)
    with pytest.raises(ValueError, match='same shape'):
        LayerExclusionLoss()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError, match='sigma'):
        LayerExclusionLoss(sigma=0.0)
