"""Synthetic rain streaks on a clean photograph (``O = B (+) R``), in plain numpy/OpenCV.

The recipe is the Photoshop-style one behind the Rain12 / Rain100 benchmarks:

1. sparse random drops (each pixel becomes a drop with probability ``density``,
   with a random intensity in ``[0.5, 1]``);
2. a small Gaussian pre-blur (``blur_sigma``) that gives the drops a body;
3. a motion blur with an anti-aliased line kernel of ``length`` x ``width`` pixels
   rotated by ``angle_deg`` (``cv2.filter2D``), which turns drops into streaks;
4. levels: values below ``threshold`` are cut and the rest stretched back to
   ``[0, 1]`` (crisp streaks instead of a grey haze), then scaled by ``brightness``;
5. blending onto the background: ``additive`` ``O = clip(B + R, 0, 1)`` or
   ``screen`` ``O = 1 - (1 - B)(1 - R)``.

:func:`render_scene` composes the way real rain is photographed (:class:`RainScene`):
up to three such layers at different depths (far: short, faint, dense; near: long,
more opaque, sparse), drawn semi-transparent (thin, low opacity, no hard levels cut),
over a background veiled by haze. :func:`sample_scene` draws its parameters; the demo
data uses it.

Angle convention: ``angle_deg = 0`` gives vertical streaks; a positive angle moves the
lower end of each streak to the right (streaks lean like a backslash ``\\``, rain
falling to the right), a negative angle to the left (``/``). In image coordinates
(x right, y down) the streak direction is ``(sin(angle), cos(angle))``.

Everything is deterministic for a given ``seed``: all randomness comes from one
:class:`numpy.random.Generator`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple, Union

import cv2
import numpy as np

__all__ = ['BLEND_MODES', 'COMPOSITE_MODES', 'RainScene', 'RainStyle', 'motion_kernel',
           'render_rain', 'render_scene', 'sample_scene', 'sample_style']

BLEND_MODES = ('additive', 'screen')
#: How :func:`render_scene` lays a scene's streak layers over the background.
COMPOSITE_MODES = ('alpha', 'additive', 'screen')

SeedLike = Union[int, np.integer, np.random.Generator, None]


@dataclass(frozen=True)
class RainStyle:
    """Parameters of one rain layer (see :func:`render_rain` for their meaning).

    The defaults give a moderate, slightly slanted rain.
    """

    angle_deg: float = 10.0
    length: float = 24.0
    width: float = 1.5
    density: float = 0.003
    brightness: float = 0.8
    blend: str = 'screen'
    blur_sigma: float = 0.6
    threshold: float = 0.15

    def as_kwargs(self) -> Dict[str, Any]:
        """The style as keyword arguments for :func:`render_rain` (JSON-serialisable)."""
        return asdict(self)


def _check_number(name: str, value: Any, low: float, high: float, *,
                  low_open: bool = False) -> float:
    """Return ``value`` as a float after checking that it is finite and in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f'{name} must be a number, got {type(value).__name__} {value!r}')
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f'{name} must be finite, got {value}')
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = '(' if low_open else '['
        raise ValueError(f'{name} must be in {bracket}{low}, {high}], got {value}')
    return value


def _make_rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                        and seed >= 0):
        return np.random.default_rng(seed)
    raise ValueError(f'seed must be a non-negative int, a numpy Generator or None, got {seed!r}')


def motion_kernel(length: float, angle_deg: float, width: float = 1.0) -> np.ndarray:
    """An anti-aliased straight-line (motion-blur) kernel.

    The kernel is a box of ``length`` x ``width`` pixels centred on the kernel centre and
    rotated by ``angle_deg`` (0 = vertical, positive = lower end to the right), with
    one-pixel linear edge ramps; values are in [0, 1] (1 inside the box).

    Args:
        length (float): Streak length in pixels, >= 1.
        angle_deg (float): Angle from vertical in degrees, in [-90, 90].
        width (float): Streak thickness in pixels, > 0.

    Returns:
        np.ndarray: float32 kernel of shape (K, K), K odd.
    """
    length = _check_number('length', length, 1.0, 512.0)
    angle_deg = _check_number('angle_deg', angle_deg, -90.0, 90.0)
    width = _check_number('width', width, 0.0, 64.0, low_open=True)
    half = int(math.ceil((length + width) / 2.0)) + 1
    coords = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(coords, coords, indexing='ij')
    theta = math.radians(angle_deg)
    along = x * math.sin(theta) + y * math.cos(theta)
    across = x * math.cos(theta) - y * math.sin(theta)
    k_along = np.clip(length / 2.0 + 0.5 - np.abs(along), 0.0, 1.0)
    k_across = np.clip(width / 2.0 + 0.5 - np.abs(across), 0.0, 1.0)
    return (k_along * k_across).astype(np.float32)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)


def _unit_drop_peak(kernel: np.ndarray, blur_sigma: float) -> float:
    """Peak of the streak that a single unit drop produces (pre-blur + motion blur)."""
    size = kernel.shape[0] + 2 * int(math.ceil(4 * blur_sigma)) + 2
    impulse = np.zeros((size, size), np.float32)
    impulse[size // 2, size // 2] = 1.0
    response = cv2.filter2D(_blur(impulse, blur_sigma), cv2.CV_32F, kernel,
                            borderType=cv2.BORDER_CONSTANT)
    return float(response.max())


def _streak_layer(h: int, w: int, kernel: np.ndarray, density: float, brightness: float,
                  blur_sigma: float, threshold: float, rng: np.random.Generator) -> np.ndarray:
    """One streak layer (H, W) float32 in [0, brightness]: drops, pre-blur, motion blur,
    levels (see the module docstring)."""
    drops = (rng.random((h, w)) < density).astype(np.float32)
    drops *= rng.uniform(0.5, 1.0, size=(h, w)).astype(np.float32)
    drops = _blur(drops, blur_sigma)
    streaks = cv2.filter2D(drops, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT_101)
    # An isolated drop of intensity v becomes a streak of peak intensity v.
    streaks /= _unit_drop_peak(kernel, blur_sigma)
    rain = np.clip((streaks - threshold) / (1.0 - threshold), 0.0, 1.0) * np.float32(brightness)
    return rain.astype(np.float32)


def render_rain(clean: np.ndarray,
                *,
                angle_deg: float = RainStyle.angle_deg,
                length: float = RainStyle.length,
                width: float = RainStyle.width,
                density: float = RainStyle.density,
                brightness: float = RainStyle.brightness,
                blend: str = RainStyle.blend,
                blur_sigma: float = RainStyle.blur_sigma,
                threshold: float = RainStyle.threshold,
                seed: SeedLike = None) -> Tuple[np.ndarray, np.ndarray]:
    """Render rain streaks onto a clean image.

    With ``B = clean / 255`` (float32) and ``R`` the returned rain layer, the rainy image
    is ``round(255 * O)`` where ``O = clip(B + R, 0, 1)`` (``blend='additive'``) or
    ``O = 1 - (1 - B) * (1 - R)`` (``blend='screen'``), computed in float32.

    Args:
        clean (np.ndarray): uint8 background of shape (H, W, 3).
        angle_deg (float): Streak angle from vertical in degrees, in [-90, 90]; positive
            moves the lower end of the streaks to the right.
        length (float): Streak length in pixels, in [1, 512].
        width (float): Streak thickness in pixels, in (0, 64].
        density (float): Probability that a pixel seeds a drop, in (0, 1].
        brightness (float): Peak streak intensity, in [0, 1].
        blend (str): ``'additive'`` or ``'screen'``.
        blur_sigma (float): Gaussian pre-blur of the drops in pixels, in [0, 10]
            (0 disables it).
        threshold (float): Levels cut-off in [0, 1): values below it become 0, the rest
            are stretched to [0, 1].
        seed (int | np.random.Generator | None): Randomness source; the same seed
            gives the same output.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(rainy, rain_layer)``: the uint8 rainy image
        (H, W, 3) and the float32 rain layer ``R`` (H, W, 3) in ``[0, brightness]``
        (the three channels are equal: white rain).

    Raises:
        ValueError: An argument is out of range or of the wrong type (the message names
            the argument).
    """
    if not isinstance(clean, np.ndarray):
        raise ValueError(f'clean must be a numpy array, got {type(clean).__name__}')
    if clean.dtype != np.uint8 or clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f'clean must be a uint8 array of shape (H, W, 3), '
                         f'got {clean.dtype} {clean.shape}')
    if clean.shape[0] < 1 or clean.shape[1] < 1:
        raise ValueError(f'clean must not be empty, got shape {clean.shape}')
    density = _check_number('density', density, 0.0, 1.0, low_open=True)
    brightness = _check_number('brightness', brightness, 0.0, 1.0)
    blur_sigma = _check_number('blur_sigma', blur_sigma, 0.0, 10.0)
    threshold = _check_number('threshold', threshold, 0.0, 1.0)
    if threshold >= 1.0:
        raise ValueError(f'threshold must be in [0, 1), got {threshold}')
    if blend not in BLEND_MODES:
        raise ValueError(f'blend must be one of {BLEND_MODES}, got {blend!r}')
    kernel = motion_kernel(length, angle_deg, width)  # validates length / angle / width
    rng = _make_rng(seed)

    h, w = clean.shape[:2]
    rain = _streak_layer(h, w, kernel, density, brightness, blur_sigma, threshold, rng)
    rain = np.repeat(rain[:, :, None], 3, axis=2)

    background = clean.astype(np.float32) / np.float32(255.0)
    if blend == 'additive':
        out = np.clip(background + rain, 0.0, 1.0)
    else:
        out = 1.0 - (1.0 - background) * (1.0 - rain)
    rainy = np.round(out * np.float32(255.0)).astype(np.uint8)
    return rainy, rain


def sample_style(rng: np.random.Generator,
                 blend: Optional[str] = None) -> RainStyle:
    """Draw random but plausible rain parameters.

    Ranges: angle uniform in [-30, 30] degrees around vertical, length 10-40 px, width
    1-2.5 px, density log-uniform in [0.001, 0.006], brightness 0.5-0.9, pre-blur
    0.4-1.0 px, threshold 0.1-0.25, blend additive or screen with equal probability.

    Args:
        rng (np.random.Generator): Randomness source (consumed).
        blend (str, optional): Force a blend mode instead of drawing one.

    Returns:
        RainStyle: The drawn style (values rounded to 4 decimals so that they survive a
        JSON round trip unchanged).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f'rng must be a numpy.random.Generator, got {type(rng).__name__}')
    if blend is not None and blend not in BLEND_MODES:
        raise ValueError(f'blend must be one of {BLEND_MODES} or None, got {blend!r}')
    angle = rng.uniform(-30.0, 30.0)
    length = rng.uniform(10.0, 40.0)
    width = rng.uniform(1.0, 2.5)
    density = math.exp(rng.uniform(math.log(0.001), math.log(0.006)))
    brightness = rng.uniform(0.5, 0.9)
    blur_sigma = rng.uniform(0.4, 1.0)
    threshold = rng.uniform(0.1, 0.25)
    drawn_blend = BLEND_MODES[int(rng.integers(0, 2))]
    return RainStyle(
        angle_deg=round(float(angle), 4),
        length=round(float(length), 4),
        width=round(float(width), 4),
        density=round(float(density), 6),
        brightness=round(float(brightness), 4),
        blend=blend or drawn_blend,
        blur_sigma=round(float(blur_sigma), 4),
        threshold=round(float(threshold), 4))


# --------------------------------------------------------------------------- rain scenes
@dataclass(frozen=True)
class RainScene:
    """Rain as it is photographed: several streak layers at different depths, and haze.

    Each layer is a :class:`RainStyle` (far layers: short, thin, faint and dense; near
    layers: long, wider, more opaque and sparse) whose value ``a_i`` lies in
    ``[0, brightness]``. Haze (the veil of distant rain and spray) blends the background
    towards an airlight ``A`` first: ``B_h = (1 - haze) B + haze A``. The layers are then
    laid over ``B_h`` in one of three ways (``composite``), with the streaks' radiance
    ``L``:

    * ``'alpha'``: semi-transparent streaks, ``a_i`` an opacity:
      ``O = (1 - a) B_h + a L`` with ``a = 1 - prod_i (1 - a_i)``;
    * ``'additive'``: the streaks add light, ``O = clip(B_h + L sum_i a_i, 0, 1)`` (the
      Rain100-style synthetic rain);
    * ``'screen'``: ``O = 1 - (1 - B_h) prod_i (1 - L a_i)`` (Photoshop's screen blend).

    Attributes:
        layers (tuple[RainStyle, ...]): Streak layers, far to near (``blend`` unused).
        haze (float): Haze opacity in [0, 1).
        airlight (float): Haze intensity A in [0, 1].
        radiance (float): Streak intensity L in [0, 1].
        composite (str): One of :data:`COMPOSITE_MODES` (default ``'alpha'``).
    """

    layers: Tuple[RainStyle, ...]
    haze: float = 0.0
    airlight: float = 0.9
    radiance: float = 1.0
    composite: str = 'alpha'

    def as_dict(self) -> Dict[str, Any]:
        """JSON-serialisable description (``RainScene.from_dict`` reads it back)."""
        return dict(layers=[layer.as_kwargs() for layer in self.layers], haze=self.haze,
                    airlight=self.airlight, radiance=self.radiance, composite=self.composite)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'RainScene':
        return cls(layers=tuple(RainStyle(**layer) for layer in d['layers']),
                   haze=d['haze'], airlight=d['airlight'], radiance=d['radiance'],
                   composite=d.get('composite', 'alpha'))


#: Ranges of :func:`sample_scene`'s layers, far to near: (length, width, log10 density,
#: opacity, pre-blur) as (low, high).
SCENE_LAYER_RANGES = (
    dict(length=(6.0, 16.0), width=(0.6, 1.0), log_density=(-2.4, -1.7),
         brightness=(0.08, 0.2), blur_sigma=(0.3, 0.6)),
    dict(length=(14.0, 32.0), width=(0.8, 1.4), log_density=(-3.0, -2.3),
         brightness=(0.15, 0.35), blur_sigma=(0.4, 0.8)),
    dict(length=(28.0, 60.0), width=(1.2, 2.2), log_density=(-3.6, -2.8),
         brightness=(0.25, 0.5), blur_sigma=(0.6, 1.2)),
)


def sample_scene(rng: np.random.Generator) -> RainScene:
    """Draw a plausible rain scene (see :class:`RainScene`).

    One to three streak layers (always the middle one; the far and near ones each with
    probability 1/2) share a direction drawn in [-25, 25] degrees from vertical, each
    jittered by up to 3 degrees; their sizes, densities and opacities are drawn from
    :data:`SCENE_LAYER_RANGES`. Haze is uniform in [0, 0.12] with an airlight in
    [0.7, 0.95]; the streak radiance is in [0.85, 1].

    Args:
        rng (np.random.Generator): Randomness source (consumed).

    Returns:
        RainScene: Values rounded to 4-6 decimals (exact JSON round trip).
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f'rng must be a numpy.random.Generator, got {type(rng).__name__}')
    angle = rng.uniform(-25.0, 25.0)
    present = [bool(rng.random() < 0.5), True, bool(rng.random() < 0.5)]
    layers = []
    for keep, ranges in zip(present, SCENE_LAYER_RANGES):
        draw = {k: rng.uniform(*v) for k, v in ranges.items()}  # drawn even when unused
        jitter = rng.uniform(-3.0, 3.0)
        if not keep:
            continue
        layers.append(RainStyle(
            angle_deg=round(float(np.clip(angle + jitter, -90, 90)), 4),
            length=round(float(draw['length']), 4),
            width=round(float(draw['width']), 4),
            density=round(float(10 ** draw['log_density']), 6),
            brightness=round(float(draw['brightness']), 4),
            blend='screen',
            blur_sigma=round(float(draw['blur_sigma']), 4),
            threshold=0.0))
    return RainScene(layers=tuple(layers),
                     haze=round(float(rng.uniform(0.0, 0.12)), 4),
                     airlight=round(float(rng.uniform(0.7, 0.95)), 4),
                     radiance=round(float(rng.uniform(0.85, 1.0)), 4))


def render_scene(clean: np.ndarray, scene: RainScene,
                 seed: SeedLike = None) -> Tuple[np.ndarray, np.ndarray]:
    """Render a :class:`RainScene` onto a clean image.

    With ``B = clean / 255`` and ``B_h = (1 - haze) B + haze A``, the rainy image is
    ``round(255 * clip(O, 0, 1))`` with ``O`` composited as the scene says
    (:class:`RainScene`; float32).

    Args:
        clean (np.ndarray): uint8 background (H, W, 3).
        scene (RainScene): What to render.
        seed (int | np.random.Generator | None): Randomness source of the drops.

    Returns:
        tuple[np.ndarray, np.ndarray]: the uint8 rainy image (H, W, 3) and the float32
        streak layer (H, W): the combined opacity ``a`` (``'alpha'``), the added light
        ``L sum_i a_i`` (``'additive'``) or the screened light
        ``1 - prod_i (1 - L a_i)`` (``'screen'``).
    """
    if not isinstance(clean, np.ndarray) or clean.dtype != np.uint8 or clean.ndim != 3 \
            or clean.shape[2] != 3 or clean.size == 0:
        raise ValueError(f'clean must be a non-empty uint8 array of shape (H, W, 3), got '
                         f'{getattr(clean, "dtype", type(clean).__name__)} '
                         f'{getattr(clean, "shape", "")}')
    if not scene.layers:
        raise ValueError('a RainScene needs at least one streak layer')
    haze = _check_number('haze', scene.haze, 0.0, 1.0)
    if haze >= 1.0:
        raise ValueError(f'haze must be in [0, 1), got {haze}')
    airlight = _check_number('airlight', scene.airlight, 0.0, 1.0)
    radiance = _check_number('radiance', scene.radiance, 0.0, 1.0)
    if scene.composite not in COMPOSITE_MODES:
        raise ValueError(f'composite must be one of {COMPOSITE_MODES}, got {scene.composite!r}')
    rng = _make_rng(seed)
    h, w = clean.shape[:2]
    # 'alpha': prod(1 - a_i); 'screen': prod(1 - L a_i); 'additive': sum(a_i)
    total = np.zeros((h, w), np.float32) if scene.composite == 'additive' else \
        np.ones((h, w), np.float32)
    for style in scene.layers:
        _check_number('density', style.density, 0.0, 1.0, low_open=True)
        _check_number('brightness', style.brightness, 0.0, 1.0)
        _check_number('blur_sigma', style.blur_sigma, 0.0, 10.0)
        kernel = motion_kernel(style.length, style.angle_deg, style.width)
        a = _streak_layer(h, w, kernel, style.density, style.brightness, style.blur_sigma,
                          style.threshold, rng)
        if scene.composite == 'additive':
            total += a
        elif scene.composite == 'screen':
            total *= 1.0 - np.float32(radiance) * a
        else:
            total *= 1.0 - a
    background = clean.astype(np.float32) / np.float32(255.0)
    background = (1.0 - haze) * background + np.float32(haze * airlight)
    if scene.composite == 'additive':
        layer = np.float32(radiance) * total
        out = background + layer[:, :, None]
    elif scene.composite == 'screen':
        layer = 1.0 - total
        out = 1.0 - (1.0 - background) * total[:, :, None]
    else:
        layer = 1.0 - total
        alpha = layer[:, :, None]
        out = (1.0 - alpha) * background + alpha * np.float32(radiance)
    rainy = np.round(np.clip(out, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
    return rainy, layer.astype(np.float32)
