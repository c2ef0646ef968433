"""Kinds of synthetic rain: how a rain scene is drawn, so that a model learns rain, not one
renderer.

Each kind draws a :class:`~.rain_renderer.RainScene` from its own distribution, and
every kind decides on its own whether the scene is hazy (probability 1/2: haze in
[0.03, 0.15], airlight in [0.7, 0.95]; otherwise no haze at all). All streak layers of a
scene share one direction, drawn in [-35, 35] degrees from vertical and jittered by up to
3 degrees per layer.

======================  =========  ================================================
kind                    composite  streaks
======================  =========  ================================================
``'layered'``           alpha      one to three depth layers of thin, semi-transparent
                                   streaks (far: short, faint, dense; near: long,
                                   wider, sparse), as :func:`~.rain_renderer.sample_scene`
``'additive_streaks'``  additive   one or two layers of crisp streaks, 0.8-3 px wide
                                   and 10-70 px long, that add light (Rain100-style)
``'drops'``             alpha      short, round-ish drops 2-5 px across, blurred
``'screen_motion'``     screen     one to three layers of long (20-80 px), soft,
                                   motion-blurred streaks, screen-blended
======================  =========  ================================================

The demo data trains on :data:`TRAIN_KINDS` and holds :data:`HELD_OUT_KINDS` out of
training: that kind appears only in the test split, whose every photograph is rendered
in every kind, so that each metric can be reported per kind.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

from .rain_renderer import RainScene, RainStyle, sample_scene

__all__ = ['HELD_OUT_KINDS', 'RAIN_KINDS', 'TRAIN_KINDS', 'sample_kind', 'sample_training_kind']

#: Probability that a scene is hazy, and the ranges of its haze and airlight.
HAZE_PROBABILITY = 0.5
HAZE_RANGE = (0.03, 0.15)
AIRLIGHT_RANGE = (0.7, 0.95)
#: Range of the shared streak direction, degrees from vertical, and per-layer jitter.
ANGLE_RANGE = (-35.0, 35.0)
ANGLE_JITTER = 3.0


def _uniform(rng: np.random.Generator, low_high: Tuple[float, float]) -> float:
    return float(rng.uniform(*low_high))


def _log_uniform(rng: np.random.Generator, low_high: Tuple[float, float]) -> float:
    """10 ** U(low, high)."""
    return float(10.0 ** rng.uniform(*low_high))


def _haze(rng: np.random.Generator) -> Tuple[float, float]:
    """(haze, airlight): no haze with probability 1 - HAZE_PROBABILITY (both drawn
    either way, so that the rest of the scene does not depend on the coin)."""
    hazy = bool(rng.random() < HAZE_PROBABILITY)
    haze, airlight = _uniform(rng, HAZE_RANGE), _uniform(rng, AIRLIGHT_RANGE)
    return (round(haze, 4) if hazy else 0.0), round(airlight, 4)


def _layer(rng: np.random.Generator, angle: float, *, length, width, log_density, brightness,
           blur_sigma, threshold=(0.0, 0.0)) -> RainStyle:
    """One streak layer with parameters drawn from the given (low, high) ranges."""
    jitter = _uniform(rng, (-ANGLE_JITTER, ANGLE_JITTER))
    return RainStyle(
        angle_deg=round(float(np.clip(angle + jitter, -90.0, 90.0)), 4),
        length=round(_uniform(rng, length), 4),
        width=round(_uniform(rng, width), 4),
        density=round(_log_uniform(rng, log_density), 6),
        brightness=round(_uniform(rng, brightness), 4),
        blend='screen',
        blur_sigma=round(_uniform(rng, blur_sigma), 4),
        threshold=round(_uniform(rng, threshold), 4))


def _layered(rng: np.random.Generator) -> RainScene:
    """The depth-layered, semi-transparent streaks of :func:`sample_scene`, over a haze
    that is on or off."""
    scene = sample_scene(rng)
    haze, airlight = _haze(rng)
    return RainScene(layers=scene.layers, haze=haze, airlight=airlight,
                     radiance=scene.radiance, composite='alpha')


def _additive_streaks(rng: np.random.Generator) -> RainScene:
    angle = _uniform(rng, ANGLE_RANGE)
    count = 1 + int(rng.integers(0, 2))
    layers = tuple(_layer(rng, angle, length=(10.0, 70.0), width=(0.8, 3.0),
                          log_density=(-3.8, -2.7), brightness=(0.3, 0.8),
                          blur_sigma=(0.3, 1.0), threshold=(0.1, 0.3))
                   for _ in range(count))
    haze, airlight = _haze(rng)
    return RainScene(layers=layers, haze=haze, airlight=airlight,
                     radiance=round(_uniform(rng, (0.85, 1.0)), 4), composite='additive')


def _drops(rng: np.random.Generator) -> RainScene:
    angle = _uniform(rng, ANGLE_RANGE)
    layers = (_layer(rng, angle, length=(1.0, 5.0), width=(2.0, 5.0),
                     log_density=(-3.4, -2.6), brightness=(0.25, 0.6),
                     blur_sigma=(0.6, 1.5)),)
    haze, airlight = _haze(rng)
    return RainScene(layers=layers, haze=haze, airlight=airlight,
                     radiance=round(_uniform(rng, (0.8, 1.0)), 4), composite='alpha')


def _screen_motion(rng: np.random.Generator) -> RainScene:
    angle = _uniform(rng, ANGLE_RANGE)
    count = 1 + int(rng.integers(0, 3))
    layers = tuple(_layer(rng, angle, length=(20.0, 80.0), width=(1.0, 2.5),
                          log_density=(-3.9, -3.0), brightness=(0.2, 0.45),
                          blur_sigma=(1.0, 2.0))
                   for _ in range(count))
    haze, airlight = _haze(rng)
    return RainScene(layers=layers, haze=haze, airlight=airlight,
                     radiance=round(_uniform(rng, (0.85, 1.0)), 4), composite='screen')


_SAMPLERS: Dict[str, Callable[[np.random.Generator], RainScene]] = {
    'layered': _layered,
    'additive_streaks': _additive_streaks,
    'drops': _drops,
    'screen_motion': _screen_motion,
}
#: Every kind, in a fixed order.
RAIN_KINDS: Tuple[str, ...] = tuple(_SAMPLERS)
#: Kinds the demo trains on.
TRAIN_KINDS: Tuple[str, ...] = ('layered', 'additive_streaks', 'drops')
#: Kinds only the demo's test split holds.
HELD_OUT_KINDS: Tuple[str, ...] = tuple(k for k in RAIN_KINDS if k not in TRAIN_KINDS)


def sample_kind(rng: np.random.Generator, kind: str) -> RainScene:
    """Draw a rain scene of one kind (see the module docstring).

    Args:
        rng (np.random.Generator): Randomness source (consumed).
        kind (str): One of :data:`RAIN_KINDS`.

    Returns:
        RainScene: Values rounded to 4-6 decimals (exact JSON round trip).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f'rng must be a numpy.random.Generator, got {type(rng).__name__}')
    if kind not in _SAMPLERS:
        raise ValueError(f'rain kind must be one of {RAIN_KINDS}, got {kind!r}')
    return _SAMPLERS[kind](rng)


def sample_training_kind(rng: np.random.Generator,
                         kinds: Tuple[str, ...] = TRAIN_KINDS) -> Tuple[str, RainScene]:
    """Draw a kind uniformly from ``kinds``, then a scene of that kind.

    Returns:
        (str, RainScene): the kind and the scene.
    """
    if not kinds or any(k not in _SAMPLERS for k in kinds):
        raise ValueError(f'kinds must be a non-empty subset of {RAIN_KINDS}, got {kinds!r}')
    kind = kinds[int(rng.integers(0, len(kinds)))]
    return kind, sample_kind(rng, kind)
