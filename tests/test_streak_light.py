"""The streak light: thin light kept along the image's rain direction (``streak_length``)."""
import math

import cv2
import numpy as np
import pytest
import torch

from nlcl_plugin.data.rain_renderer import motion_kernel
from nlcl_plugin.models.generator import STREAK_LIGHT_MARKER, STREAK_RESTORE_MARKER
from nlcl_plugin.models.streak_light import (STREAK_ANGLES, dominant_angle, line_offsets,
                                             line_opening, restored_streak_light,
                                             streak_light, streak_light_of_thin)
from nlcl_plugin.models.thin_light import white_top_hat
from test_removes_light import assert_travels_with_the_weights
from test_thin_light import _small, last_layer_output, removed_by_hand


def _brute_opening(img, offsets):
    """Erosion then dilation by explicit loops, borders clamped (replicated)."""
    h, w = img.shape

    def extreme(a, fn):
        out = np.empty_like(a)
        for y in range(h):
            for x in range(w):
                out[y, x] = fn([a[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)]
                                for dy, dx in offsets])
        return out
    return extreme(extreme(img, min), max)


@pytest.mark.parametrize('length,angle', [(5, 0.0), (7, 30.0), (9, -52.5), (5, 90.0)])
def test_line_opening_is_the_brute_force_opening(length, angle):
    offsets = line_offsets(length, angle)
    assert len(offsets) == length  # one pixel per step along the line
    assert all((-dy, -dx) in offsets for dy, dx in offsets)
    # the line's end points lie along (sin, cos) in (x, y)
    far = max(offsets, key=lambda o: o[0] ** 2 + o[1] ** 2)
    assert abs(abs(math.atan2(far[1], far[0])) - abs(math.radians(angle))) < 0.25 or \
        abs(abs(math.atan2(far[1], far[0])) - math.pi + abs(math.radians(angle))) < 0.25
    x = torch.rand(1, 2, 13, 17)
    ref = np.stack([_brute_opening(x[0, c].numpy(), offsets) for c in range(2)])
    np.testing.assert_array_equal(line_opening(x, length, angle)[0].numpy(), ref)
    with pytest.raises(ValueError, match='odd length'):
        line_offsets(4, angle)


def _draw_line(img, angle_deg, centre, half, value, width=1):
    t = math.radians(angle_deg)
    dx, dy = math.sin(t) * half, math.cos(t) * half
    cv2.line(img, (int(round(centre[0] - dx)), int(round(centre[1] - dy))),
             (int(round(centre[0] + dx)), int(round(centre[1] + dy))), value, width)


def test_streak_light_keeps_the_streaks_direction_only():
    """Three long thin lines (3 pixels) at 15 degrees are kept whole; a line of the same
    width at -60 degrees, a short dash along 15 degrees and a dot give nothing."""
    img = np.zeros((96, 96), np.float32)
    for cx in (20, 45, 70):
        _draw_line(img, 15.0, (cx, 40), 25, 0.8, 3)
    other = np.zeros_like(img)
    _draw_line(other, -60.0, (48, 82), 12, 0.8, 3)
    _draw_line(other, 15.0, (85, 85), 2, 0.8, 3)
    other[9:12, 87:90] = 0.8
    x = torch.from_numpy(np.maximum(img, other))[None, None].repeat(1, 3, 1, 1) - 0.5
    s = streak_light(x, 5, 11)
    assert s.min() >= 0 and (s <= white_top_hat(x, 5) + 1e-6).all()
    assert STREAK_ANGLES[int(dominant_angle(white_top_hat(x, 5), 11))] == 15.0
    keep = torch.from_numpy(img > 0)
    away = torch.from_numpy((other > 0) & (img == 0))
    # the lines' pixels, but for a few at their ends, are kept at their full height
    assert (s[0, 0][keep] > 0.79).float().mean() > 0.9
    assert s[0, :, away].abs().max() == 0
    with pytest.raises(ValueError, match='odd size'):
        streak_light(x, 4, 11)


@pytest.mark.parametrize('angle', [-27.0, 0.0, 12.0, 33.0])
def test_dominant_angle_is_the_rain_direction(angle):
    """Rain drawn as the renderer draws it (motion-blurred drops, over a textured
    scene): the direction found is a candidate next to the rain's angle."""
    rng = np.random.default_rng(0)
    drops = (rng.random((128, 128)) > 0.995).astype(np.float32)
    rain = cv2.filter2D(drops, -1, motion_kernel(25.0, angle, 1.0))
    rain = rain / rain.max() * 0.6
    scene = cv2.GaussianBlur(rng.random((128, 128)).astype(np.float32), (0, 0), 2.0)
    x = torch.from_numpy(scene + rain)[None, None].repeat(2, 3, 1, 1)
    found = STREAK_ANGLES[int(dominant_angle(white_top_hat(x, 7), 15)[0])]
    assert abs(found - angle) <= 7.5  # one of the two candidates around it


def test_generator_takes_a_share_of_the_streak_light():
    """``streak_length``: G(x) = x - light_removed(z) - m S_{k,L}(x), by hand; the
    options refuse a streak light without thin light and even lengths."""
    torch.manual_seed(6)
    g = _small(zero_init_output=True, thin_light_size=5, streak_length=9)
    x = torch.rand(2, 3, 20, 17) * 2 - 1
    assert torch.equal(g(x), x)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    m = removed(z[:, 3:4]).clamp(max=1.0)
    ref = x.double() - removed(z[:, :3]) - m * streak_light(x, 5, 9).double()
    torch.testing.assert_close(g(x).double(), ref, atol=1e-5, rtol=0)
    assert 'streak_length=9' in repr(g) and g.options()['streak_length'] == 9
    with pytest.raises(ValueError, match='streak_length needs thin_light_size'):
        _small(streak_length=9)
    with pytest.raises(ValueError, match='odd length'):
        _small(thin_light_size=5, streak_length=8)
    assert STREAK_LIGHT_MARKER not in _small(thin_light_size=5).state_dict()


@pytest.mark.parametrize('tile', [0, 5])
def test_streak_light_travels_with_the_weights(tmp_path, tile):
    torch.manual_seed(7)
    g_b = _small(thin_light_size=3, streak_length=7)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    torch.nn.init.constant_(g_b.layers[-1].bias, 0.5)  # a mask that takes light away
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.streak_length == 7 and built.options()['streak_length'] == 7


def test_off_streak_light_takes_a_second_share_of_the_rest():
    """``off_streak_light``: G(x) = x - light_removed(z) - m S - m_o (T - S), by hand; it
    starts at G(x) = x and needs the streak light."""
    torch.manual_seed(8)
    g = _small(zero_init_output=True, thin_light_size=5, streak_length=9, off_streak_light=True)
    x = torch.rand(2, 3, 20, 17) * 2 - 1
    assert torch.equal(g(x), x)
    assert g.layers[-1].out_channels == 5 and 'off_streak_light=True' in repr(g)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    thin = white_top_hat(x, 5).double()
    s = streak_light(x, 5, 9).double()
    ref = (x.double() - removed(z[:, :3]) - removed(z[:, 3:4]).clamp(max=1.0) * s
           - removed(z[:, 4:5]).clamp(max=1.0) * (thin - s))
    torch.testing.assert_close(g(x).double(), ref, atol=1e-5, rtol=0)
    assert g.options()['off_streak_light'] is True
    with pytest.raises(ValueError, match='off_streak_light needs streak_length'):
        _small(thin_light_size=5, off_streak_light=True)


@pytest.mark.parametrize('tile', [0, 5])
def test_off_streak_light_travels_with_the_weights(tmp_path, tile):
    torch.manual_seed(9)
    g_b = _small(thin_light_size=3, streak_length=7, off_streak_light=True)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    torch.nn.init.constant_(g_b.layers[-1].bias, 0.5)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.off_streak_light and built.options()['off_streak_light'] is True


def _brute_restored(thin, streak, steps, gain):
    """min(T, g S), then ``steps`` times: each pixel the largest of its in-image 3x3
    neighbours, capped by T (explicit loops)."""
    r = np.minimum(thin, gain * streak)
    h, w = r.shape
    for _ in range(steps):
        grown = np.empty_like(r)
        for y in range(h):
            for x in range(w):
                grown[y, x] = r[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max()
        r = np.minimum(grown, thin)
    return r


@pytest.mark.parametrize('steps', [0, 1, 3])
def test_restored_streak_light_is_the_brute_force_growth(steps):
    rng = np.random.default_rng(steps)
    thin = rng.random((2, 3, 13, 11)).astype(np.float32)
    streak = thin * (rng.random(thin.shape) < 0.2) * rng.random(thin.shape).astype(np.float32)
    got = restored_streak_light(torch.from_numpy(thin), torch.from_numpy(streak), steps)
    for n in range(2):
        for c in range(3):
            ref = _brute_restored(thin[n, c], streak[n, c], steps, 2.0)  # 'twice', documented
            np.testing.assert_allclose(got[n, c].numpy(), ref, rtol=0, atol=1e-6)
    t, st = torch.from_numpy(thin), torch.from_numpy(streak)
    assert (got >= st - 1e-7).all() and (got <= t + 1e-7).all()
    with pytest.raises(ValueError, match='steps'):
        restored_streak_light(t, st, -1)


def test_restoring_gives_a_streak_its_sides_back_and_spares_far_texture():
    """A 2-pixel anti-aliased streak at 19.5 degrees (between two candidate directions)
    whose light rises along its length, and a bright dot far from it: the line opening
    keeps a lowered core; the restored light holds the whole streak, and still not the dot."""
    img = np.zeros((64, 64), np.float32)
    cv2.line(img, (20, 8), (37, 56), 1.0, 2, cv2.LINE_AA)
    img *= np.linspace(0.4, 1.0, 64, dtype=np.float32)[:, None]
    img[30:32, 50:52] = 0.9  # a dot: thin light, not streak light
    x = torch.from_numpy(img)[None, None].repeat(1, 3, 1, 1) * 2 - 1
    thin = white_top_hat(x, 7)
    plain = streak_light_of_thin(thin, 21)
    on = torch.from_numpy(img > 0.05)[None, None].expand_as(thin).clone()
    on[..., 30:32, 50:52] = False

    def held(light):
        return float(light[on].sum() / thin[on].sum())

    assert held(plain) < 0.85
    assert held(restored_streak_light(thin, plain, 1)) > 0.99
    assert held(restored_streak_light(thin, plain, 2)) > 0.99
    assert restored_streak_light(thin, plain, 2)[..., 30:32, 50:52].abs().max() == 0
    assert thin[..., 30:32, 50:52].min() > 1.5


def test_generator_takes_a_share_of_the_restored_streak_light():
    """``streak_restore``: the mask (and the second mask on the rest) take shares of the
    restored streak light, by hand; it needs the streak light."""
    torch.manual_seed(10)
    g = _small(zero_init_output=True, thin_light_size=5, streak_length=9, streak_restore=2,
               off_streak_light=True)
    x = torch.rand(2, 3, 20, 17) * 2 - 1
    assert torch.equal(g(x), x) and 'streak_restore=2' in repr(g)
    torch.nn.init.normal_(g.layers[-1].weight, std=0.5)
    z = last_layer_output(g, x)

    def removed(v):
        return removed_by_hand(v, g.removal_sharpness)

    thin = white_top_hat(x, 5)
    s = restored_streak_light(thin, streak_light(x, 5, 9), 2).double()
    ref = (x.double() - removed(z[:, :3]) - removed(z[:, 3:4]).clamp(max=1.0) * s
           - removed(z[:, 4:5]).clamp(max=1.0) * (thin.double() - s))
    torch.testing.assert_close(g(x).double(), ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(_small(thin_light_size=5, streak_length=9,
                                      streak_restore=2).thin_light(x), s.float())
    assert g.options()['streak_restore'] == 2
    with pytest.raises(ValueError, match='streak_restore needs streak_length'):
        _small(thin_light_size=5, streak_restore=2)
    with pytest.raises(ValueError, match='streak_restore must be'):
        _small(thin_light_size=5, streak_length=9, streak_restore=-1)
    assert STREAK_RESTORE_MARKER not in _small(thin_light_size=5, streak_length=9).state_dict()


@pytest.mark.parametrize('tile', [0, 5])
def test_restored_streak_light_travels_with_the_weights(tmp_path, tile):
    torch.manual_seed(11)
    g_b = _small(thin_light_size=3, streak_length=7, streak_restore=2)
    torch.nn.init.normal_(g_b.layers[-1].weight, std=0.1)
    torch.nn.init.constant_(g_b.layers[-1].bias, 0.5)
    built = assert_travels_with_the_weights(g_b, tmp_path, tile)
    assert built.streak_restore == 2


def test_the_discriminators_streak_light_view():
    """``GrayStreakLight``: the streak light of the channel mean, on every channel; a
    dash across the rain's direction is not in it, the streaks are."""
    from nlcl_plugin.models.objective import NLCLObjective
    from nlcl_plugin.models.streak_light import GrayStreakLight
    img = np.zeros((64, 64), np.float32)
    for cx in (12, 30, 48):
        _draw_line(img, 15.0, (cx, 24), 14, 0.8, 2)
    _draw_line(img, -60.0, (32, 54), 6, 0.8, 2)
    x = torch.from_numpy(img)[None, None] * torch.tensor([1.0, 0.5, 0.2])[None, :, None, None]
    view = GrayStreakLight(5, 11)
    out = view(x)
    ref = streak_light(x.mean(1, keepdim=True), 5, 11)
    assert out.shape == x.shape and all(torch.equal(out[:, c:c + 1], ref) for c in range(3))
    assert out[0, 0, 46:, :].abs().max() == 0 and out[0, 0, 12:36, :].max() > 0.4
    assert 'size=5, length=11' in repr(view) and not dict(view.state_dict())
    for bad in ((4, 11), (5, 10)):
        with pytest.raises(ValueError, match='odd'):
            GrayStreakLight(*bad)
    obj = NLCLObjective(gan_loss=torch.nn.MSELoss(), disc_input='gray_streak_light',
                        disc_streak=(5, 11))
    assert isinstance(obj.disc_view, GrayStreakLight) and obj.disc_view.length == 11
