"""Kinds of synthetic rain: each kind's scenes, seeding, haze on and off, the held-out kind."""
import numpy as np
import pytest

from nlcl_plugin.data.rain_kinds import (HELD_OUT_KINDS, RAIN_KINDS, TRAIN_KINDS, sample_kind,
                                         sample_training_kind)
from nlcl_plugin.data.rain_renderer import RainScene, motion_kernel, render_scene

#: What each kind must look like: composite, layer count, and (low, high) of the
#: streak length and width.
EXPECTED = {
    'layered': ('alpha', (1, 3), (6.0, 60.0), (0.6, 2.2)),
    'additive_streaks': ('additive', (1, 2), (10.0, 70.0), (0.8, 3.0)),
    'drops': ('alpha', (1, 1), (1.0, 5.0), (2.0, 5.0)),
    'screen_motion': ('screen', (1, 3), (20.0, 80.0), (1.0, 2.5)),
}


def test_every_kind_is_described():
    assert set(RAIN_KINDS) == set(EXPECTED)
    assert set(TRAIN_KINDS) | set(HELD_OUT_KINDS) == set(RAIN_KINDS)
    assert HELD_OUT_KINDS and not set(TRAIN_KINDS) & set(HELD_OUT_KINDS)
    # the held-out kind composites in a way no training kind uses
    held = {EXPECTED[k][0] for k in HELD_OUT_KINDS}
    assert not held & {EXPECTED[k][0] for k in TRAIN_KINDS}


@pytest.mark.parametrize('kind', sorted(EXPECTED))
def test_kind_scenes(kind):
    composite, (lo_n, hi_n), (lo_len, hi_len), (lo_w, hi_w) = EXPECTED[kind]
    scenes = [sample_kind(np.random.default_rng(i), kind) for i in range(60)]
    assert {s.composite for s in scenes} == {composite}
    assert {len(s.layers) for s in scenes} == set(range(lo_n, hi_n + 1))
    assert {s.haze > 0 for s in scenes} == {True, False}  # haze on and off
    for s in scenes:
        assert 0 <= s.haze <= 0.15 and 0.7 <= s.airlight <= 0.95 and s.radiance <= 1
        angles = [layer.angle_deg for layer in s.layers]
        assert max(angles) - min(angles) <= 6 and all(-38 <= a <= 38 for a in angles)
        for layer in s.layers:
            assert lo_len <= layer.length <= hi_len and lo_w <= layer.width <= hi_w
        assert RainScene.from_dict(s.as_dict()) == s
    assert sample_kind(np.random.default_rng(3), kind) == sample_kind(np.random.default_rng(3),
                                                                       kind)


def test_drops_are_round_and_streaks_are_long():
    """A drop's footprint is about as long as it is wide; a streak's several times longer."""
    def elongation(style):
        k = motion_kernel(style.length, style.angle_deg, style.width) > 0.5
        ys, xs = np.nonzero(k)
        cov = np.cov(np.stack([xs, ys]).astype(float))
        ev = np.linalg.eigvalsh(cov)
        return np.sqrt(ev[-1] / max(ev[0], 1e-6))
    rng = np.random.default_rng(0)
    drops = [elongation(sample_kind(rng, 'drops').layers[0]) for _ in range(20)]
    streaks = [elongation(sample_kind(rng, 'additive_streaks').layers[0]) for _ in range(20)]
    assert np.median(drops) < 2.0 < 4.0 < np.median(streaks)


def test_every_kind_renders_rain_that_brightens():
    """Every kind adds light where its streaks are (rain is brighter than the scene)."""
    clean = np.full((96, 96, 3), 60, np.uint8)
    for kind in RAIN_KINDS:
        rng = np.random.default_rng(5)
        scene = sample_kind(rng, kind)
        scene = RainScene(layers=scene.layers, haze=0.0, airlight=scene.airlight,
                          radiance=scene.radiance, composite=scene.composite)
        rainy, layer = render_scene(clean, scene, seed=rng)
        assert layer.max() > 0.1, kind
        assert (rainy.astype(int) >= 60).all() and rainy.max() > 90, kind


def test_training_draw_and_bad_arguments():
    drawn = {sample_training_kind(np.random.default_rng(i))[0] for i in range(40)}
    assert drawn == set(TRAIN_KINDS)
    kind, scene = sample_training_kind(np.random.default_rng(1), kinds=('drops',))
    assert kind == 'drops' and scene.composite == 'alpha'
    with pytest.raises(ValueError, match='rain kind'):
        sample_kind(np.random.default_rng(0), 'hail')
    with pytest.raises(ValueError, match='Generator'):
        sample_kind(0, 'drops')
    with pytest.raises(ValueError, match='subset'):
        sample_training_kind(np.random.default_rng(0), kinds=())
