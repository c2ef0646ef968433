"""Synthetic rain renderer: determinism, blend formulas, sparsity, streak angle, errors."""
import cv2
import numpy as np
import pytest

from nlcl_plugin.data.rain_renderer import (RainStyle, motion_kernel, render_rain,
                                            sample_style)


@pytest.fixture(scope='module')
def clean():
    rng = np.random.default_rng(123)
    y, x = np.mgrid[0:160, 0:192]
    base = np.stack([x * 255 / 191, y * 255 / 159, (x + y) * 255 / 350], axis=2)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def streak_angle(rain: np.ndarray) -> float:
    """Streak angle from vertical (positive: lower end to the right), from the
    orientation of the structure tensor's dominant gradient direction."""
    g = cv2.GaussianBlur(rain[..., 0].astype(np.float64), (0, 0), 1.0)
    gx = cv2.Scharr(g, cv2.CV_64F, 1, 0)
    gy = cv2.Scharr(g, cv2.CV_64F, 0, 1)
    jxx, jyy, jxy = (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()
    gradient_dir = 0.5 * np.degrees(np.arctan2(2 * jxy, jxx - jyy))  # from the x axis
    # streak direction (sin a, cos a) is perpendicular to the gradient (cos a, -sin a)
    return -gradient_dir


def test_deterministic_for_a_seed(clean):
    a = render_rain(clean, seed=7)
    b = render_rain(clean, seed=7)
    c = render_rain(clean, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    gen = render_rain(clean, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(gen[1], a[1])


def test_output_types_and_range(clean):
    rainy, rain = render_rain(clean, brightness=0.7, seed=0)
    assert rainy.dtype == np.uint8 and rainy.shape == clean.shape
    assert rain.dtype == np.float32 and rain.shape == clean.shape
    assert rain.min() >= 0.0 and rain.max() <= 0.7 + 1e-6
    assert rain.max() > 0.3  # streaks are visible
    np.testing.assert_array_equal(rain[..., 0], rain[..., 2])  # white rain
    assert (rainy.astype(int) >= clean.astype(int)).all()  # rain only brightens


@pytest.mark.parametrize('blend', ['additive', 'screen'])
def test_blend_formula(clean, blend):
    rainy, rain = render_rain(clean, blend=blend, density=0.01, seed=3)
    b = clean.astype(np.float32) / np.float32(255.0)
    if blend == 'additive':
        expected = np.clip(b + rain, 0.0, 1.0)
    else:
        expected = 1.0 - (1.0 - b) * (1.0 - rain)
    np.testing.assert_array_equal(rainy, np.round(expected * np.float32(255.0)).astype(np.uint8))


def test_sparse_at_low_density(clean):
    _, rain = render_rain(clean, density=0.0005, length=20, width=1, seed=1)
    covered = (rain[..., 0] > 0).mean()
    assert 0.0 < covered < 0.08
    _, dense = render_rain(clean, density=0.02, length=20, width=1, seed=1)
    assert (dense[..., 0] > 0).mean() > 3 * covered


@pytest.mark.parametrize('angle', [-30.0, -12.0, 0.0, 17.0, 30.0])
def test_streak_orientation_matches_angle(angle):
    background = np.zeros((256, 256, 3), np.uint8)
    _, rain = render_rain(background, angle_deg=angle, length=30, width=1.5,
                          density=0.002, seed=5)
    assert abs(streak_angle(rain) - angle) < 2.0


def test_motion_kernel_shape():
    k = motion_kernel(21, 0.0, 1.0)
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    c = k.shape[0] // 2
    assert k[c - 10:c + 11, c].min() == 1.0 and k[c, c + 2] == 0.0  # a vertical line
    k45 = motion_kernel(21, 45.0, 1.0)
    np.testing.assert_allclose(k45, k45.T[::-1, ::-1])  # symmetric about the diagonal


def test_sample_style_is_plausible_and_seeded():
    rng = np.random.default_rng(0)
    styles = [sample_style(rng) for _ in range(200)]
    assert all(-30 <= s.angle_deg <= 30 and 10 <= s.length <= 40 for s in styles)
    assert all(0 < s.density < 0.01 and 0 < s.brightness <= 1 for s in styles)
    assert {s.blend for s in styles} == {'additive', 'screen'}
    assert sample_style(np.random.default_rng(1)) == sample_style(np.random.default_rng(1))
    style = sample_style(np.random.default_rng(2), blend='additive')
    assert style.blend == 'additive'
    rainy, _ = render_rain(np.zeros((64, 64, 3), np.uint8), **style.as_kwargs(), seed=0)
    assert rainy.shape == (64, 64, 3)
    assert isinstance(RainStyle().as_kwargs(), dict)


@pytest.mark.parametrize('kwargs, name', [
    (dict(angle_deg=95), 'angle_deg'),
    (dict(angle_deg=float('nan')), 'angle_deg'),
    (dict(length=0), 'length'),
    (dict(width=0), 'width'),
    (dict(density=0), 'density'),
    (dict(density=1.5), 'density'),
    (dict(brightness=-0.1), 'brightness'),
    (dict(brightness='high'), 'brightness'),
    (dict(blend='multiply'), 'blend'),
    (dict(blur_sigma=-1), 'blur_sigma'),
    (dict(threshold=1.0), 'threshold'),
    (dict(seed=-3), 'seed'),
    (dict(seed=1.5), 'seed'),
])
def test_invalid_arguments_raise(clean, kwargs, name):
    with pytest.raises(ValueError, match=name):
        render_rain(clean, **kwargs)


@pytest.mark.parametrize('bad', [
    np.zeros((8, 8), np.uint8),
    np.zeros((8, 8, 4), np.uint8),
    np.zeros((8, 8, 3), np.float32),
    [[0, 0, 0]],
])
def test_invalid_image_raises(bad):
    with pytest.raises(ValueError, match='clean'):
        render_rain(bad, seed=0)


def test_sample_style_rejects_bad_rng():
    with pytest.raises(ValueError, match='rng'):
        sample_style(0)


def test_rain_scene_matches_its_equation():
    """O = (1 - a) ((1 - h) B + h A) + a L with a = 1 - prod(1 - a_i), one layer's a_i
    being exactly render_rain's streak layer for the same drops."""
    from nlcl_plugin.data.rain_renderer import RainScene, render_scene
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    style = RainStyle(angle_deg=12.0, length=15.0, width=1.0, density=0.004, brightness=0.4,
                      blend='screen', blur_sigma=0.5, threshold=0.0)
    scene = RainScene(layers=(style, style), haze=0.1, airlight=0.8, radiance=0.9)
    rainy, alpha = render_scene(clean, scene, seed=5)
    # the same drops through render_rain give each layer's opacity
    gen = np.random.default_rng(5)
    _, a1 = render_rain(np.zeros_like(clean), **style.as_kwargs(), seed=gen)
    _, a2 = render_rain(np.zeros_like(clean), **style.as_kwargs(), seed=gen)
    a = 1 - (1 - a1[:, :, 0]) * (1 - a2[:, :, 0])
    np.testing.assert_allclose(alpha, a, atol=1e-6)
    b = clean / 255.0
    expected = (1 - a[:, :, None]) * (0.9 * b + 0.1 * 0.8) + a[:, :, None] * 0.9
    assert np.abs(rainy / 255.0 - expected).max() <= 0.5 / 255 + 1e-5
    assert alpha.max() > 0.2 and (alpha < 0.01).mean() > 0.3  # streaks, not a veil


def test_sample_scene_is_plausible_and_seeded():
    from nlcl_plugin.data.rain_renderer import RainScene, sample_scene
    scenes = [sample_scene(np.random.default_rng(i)) for i in range(100)]
    assert {len(s.layers) for s in scenes} == {1, 2, 3}
    for s in scenes:
        angles = [layer.angle_deg for layer in s.layers]
        assert max(angles) - min(angles) <= 6 and all(-28 <= a <= 28 for a in angles)
        assert all(0 < layer.brightness <= 0.5 and layer.width <= 2.2 for layer in s.layers)
        assert 0 <= s.haze <= 0.12 and 0.7 <= s.airlight <= 0.95
        assert RainScene.from_dict(s.as_dict()) == s
    assert sample_scene(np.random.default_rng(3)) == sample_scene(np.random.default_rng(3))
    with pytest.raises(ValueError, match='Generator'):
        sample_scene(3)


def test_render_scene_rejects_bad_input():
    from nlcl_plugin.data.rain_renderer import RainScene, render_scene
    with pytest.raises(ValueError, match='uint8'):
        render_scene(np.zeros((8, 8), np.uint8), RainScene(layers=(RainStyle(),)))
    with pytest.raises(ValueError, match='at least one'):
        render_scene(np.zeros((8, 8, 3), np.uint8), RainScene(layers=()))
    with pytest.raises(ValueError, match='haze'):
        render_scene(np.zeros((8, 8, 3), np.uint8), RainScene(layers=(RainStyle(),), haze=1.0))


def test_additive_and_screen_composites_match_their_equations():
    """'additive': O = clip(B_h + L sum a_i); 'screen': O = 1 - (1 - B_h) prod(1 - L a_i),
    each a_i being the same drops' layer as in the 'alpha' composite."""
    from nlcl_plugin.data.rain_renderer import RainScene, render_scene
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)
    style = RainStyle(angle_deg=-8.0, length=12.0, width=1.5, density=0.01, brightness=0.7,
                      blend='screen', blur_sigma=0.5, threshold=0.1)
    gen = np.random.default_rng(9)
    _, a1 = render_rain(np.zeros_like(clean), **style.as_kwargs(), seed=gen)
    _, a2 = render_rain(np.zeros_like(clean), **style.as_kwargs(), seed=gen)
    a1, a2 = a1[:, :, :1], a2[:, :, :1]
    b_h = 0.9 * (clean / 255.0) + 0.1 * 0.8
    for composite, expected, layer in (
            ('additive', np.clip(b_h + 0.95 * (a1 + a2), 0, 1), 0.95 * (a1 + a2)),
            ('screen', 1 - (1 - b_h) * (1 - 0.95 * a1) * (1 - 0.95 * a2),
             1 - (1 - 0.95 * a1) * (1 - 0.95 * a2))):
        scene = RainScene(layers=(style, style), haze=0.1, airlight=0.8, radiance=0.95,
                          composite=composite)
        rainy, out_layer = render_scene(clean, scene, seed=9)
        assert np.abs(rainy / 255.0 - expected).max() <= 0.5 / 255 + 1e-5, composite
        np.testing.assert_allclose(out_layer, layer[:, :, 0], atol=1e-5)
        assert RainScene.from_dict(scene.as_dict()) == scene
    # manifests written before the composite field existed read as 'alpha'
    old = RainScene(layers=(style,)).as_dict()
    del old['composite']
    assert RainScene.from_dict(old).composite == 'alpha'
    with pytest.raises(ValueError, match='composite'):
        render_scene(clean, RainScene(layers=(style,), composite='multiply'))
