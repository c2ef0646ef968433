"""The decomposition generator used for both G_B (background) and G_R (rain).

A full-resolution residual network (no down/up-sampling), exact to the released NLCL
checkpoints: 3->32 conv, 16 residual blocks, a conv-IN-ReLU-conv tail and a 32->3 conv
without output activation; 316,195 parameters.

Speed: on CPU the network computes in channels-last layout (its inputs are converted
once; outputs and taps are channels-last tensors of the usual (N, C, H, W) shape) with
the layout-keeping InstanceNorm of :mod:`.fast_ops`. When no graph is recorded
(``torch.no_grad`` / ``torch.inference_mode``) the blocks normalise, rectify and add in
place. Values are those of the plain NCHW ops up to float32 rounding.
"""
import contextlib
import math
from typing import Dict, Iterator, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fast_ops import Conv2d, fast_paths_enabled, instance_norm, instance_norm_
from .streak_light import streak_light, streak_light_of_thin
from .thin_light import white_top_hat

__all__ = ['REMOVES_LIGHT_MARKER', 'RESIDUAL_MARKER', 'THIN_LIGHT_MARKER', 'VEIL_MARKER',
           'GREY_LIGHT_MARKER', 'AIRLIGHT_MARKER', 'STREAK_LIGHT_MARKER', 'OFF_STREAK_MARKER',
           'STREAK_RESTORE_MARKER', 'NO_NORM_MARKER', 'NORMS',
           'ResBlock', 'ConvNormConv', 'DecompositionGenerator', 'light_removed',
           'recording_features']

#: State-dict key (a scalar buffer) present exactly when the generator is residual.
RESIDUAL_MARKER = 'residual_output'
#: State-dict key (a scalar buffer holding the sharpness) present exactly when the
#: residual generator only removes light (``removes_light=True``).
REMOVES_LIGHT_MARKER = 'removes_light_output'
#: State-dict key (a scalar buffer holding the structuring element's size) present exactly
#: when the generator removes a masked share of the thin light (``thin_light_size > 0``).
THIN_LIGHT_MARKER = 'thin_light_output'
#: State-dict key (a scalar buffer holding the line's length) present exactly when the
#: thin light is kept only where it is elongated along the rain direction
#: (``streak_length > 0``).
STREAK_LIGHT_MARKER = 'streak_light_output'
#: State-dict key (a scalar buffer holding the number of steps) present exactly when the
#: streak light is restored around its cores (``streak_restore > 0``).
STREAK_RESTORE_MARKER = 'streak_restore_output'
#: State-dict key present exactly when a second mask takes a share of the thin light
#: that is not streak light (``off_streak_light=True``).
OFF_STREAK_MARKER = 'off_streak_light_output'
#: State-dict key (a scalar buffer holding the block size) present exactly when the light
#: the generator removes outside the thin light is a smooth veil (``veil_scale > 0``).
VEIL_MARKER = 'veil_output'
#: State-dict key present exactly when the light the generator removes outside the thin
#: light is achromatic (``grey_light=True``): one output channel, taken from every colour.
GREY_LIGHT_MARKER = 'grey_light_output'
#: State-dict key present exactly when the generator inverts a grey layer composited over
#: the background (``airlight=True``).
AIRLIGHT_MARKER = 'airlight_output'
#: State-dict key present exactly when the generator's blocks have no feature
#: normalisation (``norm='none'``).
NO_NORM_MARKER = 'no_norm_features'
#: The largest opacity ``a`` of the composited layer ``airlight=True`` inverts (B is
#: divided by ``1 - a``).
MAX_OPACITY = 0.9


def light_removed(z: torch.Tensor, sharpness: float) -> torch.Tensor:
    """softplus(z; sharpness) - ln(2) / sharpness: 0 at z = 0, growing like z for z > 0,
    never below -ln(2) / sharpness (so at most that much light is ever added)."""
    return F.softplus(z, beta=sharpness) - math.log(2.0) / sharpness


def _instance_norm(x: torch.Tensor) -> torch.Tensor:
    """Non-affine InstanceNorm without running statistics (eps 1e-5)."""
    return instance_norm(x, eps=1e-5)


def _in_place_ok(x: torch.Tensor) -> bool:
    """True when no autograd graph is being recorded for ``x``'s successors."""
    return fast_paths_enabled() and (not torch.is_grad_enabled()
                                     or torch.is_inference_mode_enabled())


#: The generator's feature normalisations: the authors' non-affine InstanceNorm, or none.
NORMS = ('instance', 'none')


def _check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')
    return norm


class ResBlock(nn.Module):
    """y = x + IN(conv2(ReLU(IN(conv1(x))))), zero padding, no activation after the sum
    (``norm='none'``: y = x + conv2(ReLU(conv1(x)))).

    Args:
        channels (int): Feature width C. Input and output are (N, C, H, W).
        norm (str): 'instance' (the authors') or 'none'.
    """

    def __init__(self, channels: int = 32, norm: str = 'instance'):
        super().__init__()
        self.norm = _check_norm(norm)
        self.conv1 = Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm == 'none':
            return x + self.conv2(F.relu(self.conv1(x), inplace=True))
        if _in_place_ok(x):
            y = instance_norm_(self.conv1(x), relu=True)
            return instance_norm_(self.conv2(y), residual=x)
        y = F.relu(_instance_norm(self.conv1(x)))
        return x + _instance_norm(self.conv2(y))


class ConvNormConv(nn.Module):
    """The generator's tail: conv -> IN -> ReLU -> conv, without skip connection
    (``norm='none'``: conv -> ReLU -> conv).

    Args:
        channels (int): Feature width C. Input and output are (N, C, H, W).
        norm (str): 'instance' (the authors') or 'none'.
    """

    def __init__(self, channels: int = 32, norm: str = 'instance'):
        super().__init__()
        self.norm = _check_norm(norm)
        self.conv1 = Conv2d(channels, channels, 3, 1, 1)
        self.conv2 = Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm == 'none':
            return self.conv2(F.relu(self.conv1(x), inplace=True))
        if _in_place_ok(x):
            return self.conv2(instance_norm_(self.conv1(x), relu=True))
        return self.conv2(F.relu(_instance_norm(self.conv1(x))))


class DecompositionGenerator(nn.Module):
    """NLCL's generator (G_B and G_R share this architecture, not their weights).

    Layer indices (used for feature taps): 0 = input conv, 1..num_blocks = residual
    blocks, num_blocks+1 = tail, num_blocks+2 = output conv. Every layer keeps the
    input's spatial size. Weights keep PyTorch's default initialisation, as the
    authors' generators do.

    Options beyond the paper (all off by default, so the authors' checkpoints
    load and reproduce their outputs unchanged):

    * ``residual=True``: the network predicts a correction, ``G(x) = x + net(x)``.
      Every InstanceNorm discards absolute intensity, so the plain network must
      re-synthesise the whole image; the residual form only has to model what it
      removes (for G_B: the rain).
    * ``zero_init_output=True``: the output conv starts at zero weight and bias, so at
      initialisation ``G(x) = x`` (with ``residual``) or ``G(x) = 0`` (without). For
      G_B and G_R this starts the decomposition at B = O, R = 0.
    * ``removes_light=True`` (with ``residual``): ``G(x) = x - light_removed(net(x))``,
      a smooth non-negative removal (:func:`light_removed`; at most ``ln 2 /
      removal_sharpness`` of light, 0.014 of the [-1, 1] range by default, is ever
      added). Rain streaks and the veil of rain add light to the scene behind them, so
      G_B then models the rain layer O - B >= 0: it can take streaks and haze away, but
      not brighten B nor draw sharpening halos (both need light added beside light
      taken).
    * ``thin_light_size=k`` (with ``removes_light``): the last conv has one more output
      channel ``z_m``, and G_B also takes away the share ``m = min(light_removed(z_m), 1)``
      of the thin light of its input, the white top-hat ``T_k(x) = x - open_k(x)``
      (:mod:`.thin_light`: bright structures narrower than ``k`` pixels, where streaks
      and drops lie): ``G(x) = x - light_removed(z) - m * T_k(x)``. A streak can then go
      in one step of the mask instead of being painted over.
    * ``streak_length=L`` (with ``thin_light_size``): the thin light is replaced by the
      streak light ``S_{k,L}(x)`` (:mod:`.streak_light`), the part of ``T_k(x)`` that is
      at least ``L`` pixels long along the image's dominant direction: rain streaks fall
      along one direction, bright texture runs along many, so the mask can only take
      away thin light shaped like the image's streaks.
    * ``streak_restore=n`` (with ``streak_length``): the streak light is restored around
      its cores (:func:`.streak_light.restored_streak_light`): the line opening gives
      each pixel the least light along a segment of the line, so a streak keeps a
      lowered core and loses its sides; the core is raised to twice that level and
      grown ``n`` pixels within the thin light. The mask can then hold whole streaks
      (on the demo's training cells its best share takes 45 % of the streak layer with
      ``n = 2``, against 27 %; ``tools/light_forms.py``), and texture only where it
      touches a streak's core (trained: ``docs/training.md`` 4.15).
    * ``off_streak_light=True`` (with ``streak_length``): one more output channel
      ``z_o`` and a second mask ``m_o = min(light_removed(z_o), 1)`` on the rest of the
      thin light, ``T_k(x) - S_{k,L}(x)`` (short streaks, drops, streaks off the
      dominant direction, and texture): ``G(x) = x - light_removed(z) - m S_{k,L}(x)
      - m_o (T_k(x) - S_{k,L}(x))``. It starts at 0 (with ``zero_init_output``).
    * ``thin_light_init=s`` (with ``thin_light_size`` and ``zero_init_output``): the mask
      starts at the share ``s`` (``0 <= s < 1``) everywhere instead of 0 (its channel's
      bias is set so that ``light_removed(bias) = s``): training starts from taking that
      share of the thin (or streak) light away and learns where not to. Only the
      initialisation changes; ``s < 1`` keeps the mask's gradient alive.
    * ``veil_scale=s`` (with ``removes_light``): the light removed outside the thin light
      is averaged over ``s x s`` blocks and resized back bilinearly (:meth:`veil`), a
      smooth veil such as haze.
    * ``grey_light=True`` (with ``removes_light``): the light removed outside the thin
      light is one channel, taken equally from every colour channel: rain and its veil
      add light of the scene's illuminant, not a colour of their own, so G_B cannot
      recolour B (no colour cast, only brightness and the thin light's own colour).
    * ``airlight=True`` (with ``removes_light``): G_B inverts a grey layer composited over
      the background, the model of haze and semi-transparent rain,
      ``O = (1 - a) B + a A``: two output channels give the opacity
      ``a = min(light_removed(z_a), 0.9)`` and the layer's grey level ``A = tanh(z_A)``,
      and ``G(x) = (x' - a A) / (1 - a)`` with ``x' = x - m T_k(x)`` when the thin light
      is on (the formula holds in [-1, 1] as in [0, 1]). Hue cannot change (a grey pixel
      stays grey); haze's loss of contrast can be undone, which subtracting light cannot.

    * ``norm='none'``: the blocks and the tail lose their InstanceNorm. Each InstanceNorm
      divides by statistics of the whole image, so every output pixel of the authors'
      G_B depends on the whole input: whether a texture pixel keeps its light can then
      depend on rain far from it. Without normalisation the output at a pixel depends
      only on the input within the receptive field, ``4 num_blocks + 9`` pixels wide (25
      with 4 blocks), and the identity loss asked on clean images constrains the very
      function G_B applies to rain-free neighbourhoods of rainy ones. Measured on the
      demo's same-places cells (``docs/training.md`` 4.25), such a G_B strikes the rainy
      cells' texture as hard as the authors' form and the clean cells' with it.

    Args:
        in_channels (int): Input channels (3 for RGB in [-1, 1]).
        out_channels (int): Output channels.
        mid_channels (int): Feature width (32 in NLCL).
        num_blocks (int): Residual blocks (16 in NLCL).
        norm (str): The blocks' and tail's normalisation: 'instance' (NLCL) or 'none'.
        residual (bool): Output ``x + net(x)`` (needs ``in_channels == out_channels``).
        zero_init_output (bool): Initialise the output conv to zero.
        removes_light (bool): With ``residual``: output ``x - light_removed(net(x))``.
        removal_sharpness (float): The softplus's sharpness for ``removes_light`` (50).
        thin_light_size (int): 0 (off) or the odd size ``k`` of the thin light's square
            structuring element.
        streak_length (int): 0 (off) or the odd length ``L`` of the line along which the
            thin light must extend (:func:`.streak_light.streak_light`).
        streak_restore (int): 0 (off) or the steps ``n`` the streak light is grown by.
        off_streak_light (bool): A second mask on the thin light that is not streak light.
        thin_light_init (float): The mask's value at initialisation (0 by default).
        veil_scale (int): 0 (off) or the block size ``s`` (>= 2) of the smooth veil.
        grey_light (bool): The light removed outside the thin light is achromatic.
        airlight (bool): Invert a composited grey layer instead of subtracting light.

    Shapes:
        forward: (N, in_channels, H, W) -> (N, out_channels, H, W), any H, W >= 2
        (InstanceNorm needs more than one pixel; the derainer pads smaller images).
    """

    def __init__(self,
                 in_channels: int = 3,
                 out_channels: int = 3,
                 mid_channels: int = 32,
                 num_blocks: int = 16,
                 residual: bool = False,
                 zero_init_output: bool = False,
                 removes_light: bool = False,
                 removal_sharpness: float = 50.0,
                 thin_light_size: int = 0,
                 veil_scale: int = 0,
                 grey_light: bool = False,
                 airlight: bool = False,
                 streak_length: int = 0,
                 thin_light_init: float = 0.0,
                 off_streak_light: bool = False,
                 streak_restore: int = 0,
                 norm: str = 'instance'):
        super().__init__()
        _check_norm(norm)
        if residual and in_channels != out_channels:
            raise ValueError(f'residual=True needs in_channels == out_channels, got '
                             f'{in_channels} and {out_channels}')
        if removes_light and not residual:
            raise ValueError('removes_light=True needs residual=True (B = O - removed light)')
        if not removal_sharpness > 0:
            raise ValueError(f'removal_sharpness must be > 0, got {removal_sharpness}')
        if thin_light_size and not removes_light:
            raise ValueError('thin_light_size needs removes_light=True (B = O - removed light)')
        if thin_light_size and (thin_light_size < 3 or thin_light_size % 2 == 0):
            raise ValueError(f'thin_light_size must be 0 (off) or an odd size >= 3, got '
                             f'{thin_light_size}')
        if streak_length and not thin_light_size:
            raise ValueError('streak_length needs thin_light_size (the streak light is the '
                             'thin light kept along the rain direction)')
        if streak_length and (streak_length < 3 or streak_length % 2 == 0):
            raise ValueError(f'streak_length must be 0 (off) or an odd length >= 3, got '
                             f'{streak_length}')
        if streak_restore and not streak_length:
            raise ValueError('streak_restore needs streak_length (it restores the streak '
                             'light around its cores)')
        if streak_restore < 0:
            raise ValueError(f'streak_restore must be 0 (off) or a number of steps >= 1, '
                             f'got {streak_restore}')
        if off_streak_light and not streak_length:
            raise ValueError('off_streak_light needs streak_length (its mask takes the thin '
                             'light that is not streak light)')
        if thin_light_init and not (thin_light_size and zero_init_output):
            raise ValueError('thin_light_init needs thin_light_size and zero_init_output '
                             '(it sets the mask at initialisation)')
        if not 0.0 <= thin_light_init < 1.0:
            raise ValueError(f'thin_light_init must be in [0, 1), got {thin_light_init}')
        if veil_scale and not removes_light:
            raise ValueError('veil_scale needs removes_light=True (B = O - removed light)')
        if grey_light and not removes_light:
            raise ValueError('grey_light needs removes_light=True (B = O - removed light)')
        if airlight and not removes_light:
            raise ValueError('airlight needs removes_light=True (O = (1 - a) B + a A)')
        if airlight and grey_light:
            raise ValueError('airlight and grey_light are two forms of the removed light; '
                             'choose one')
        if veil_scale < 0 or veil_scale == 1:
            raise ValueError(f'veil_scale must be 0 (off) or >= 2, got {veil_scale}')
        self.mid_channels = mid_channels
        self.num_blocks = num_blocks
        self.norm = norm
        self.residual = bool(residual)
        self.zero_init_output = bool(zero_init_output)
        self.removes_light = bool(removes_light)
        self.removal_sharpness = float(removal_sharpness)
        self.thin_light_size = int(thin_light_size)
        self.streak_length = int(streak_length)
        self.off_streak_light = bool(off_streak_light)
        self.streak_restore = int(streak_restore)
        self.veil_scale = int(veil_scale)
        self.grey_light = bool(grey_light)
        self.out_channels = out_channels
        # channels of the light removed (one when it is achromatic), and one more for the
        # mask of the thin light taken away
        self.airlight = bool(airlight)
        self.light_channels = 1 if self.grey_light else 2 if self.airlight else out_channels
        net_out = (self.light_channels + (1 if self.thin_light_size else 0)
                   + (1 if self.off_streak_light else 0))
        layers = [Conv2d(in_channels, mid_channels, 3, 1, 1)]
        layers += [ResBlock(mid_channels, norm) for _ in range(num_blocks)]
        layers += [ConvNormConv(mid_channels, norm), Conv2d(mid_channels, net_out, 3, 1, 1)]
        self.layers = nn.ModuleList(layers)
        if zero_init_output:
            nn.init.zeros_(self.layers[-1].weight)
            nn.init.zeros_(self.layers[-1].bias)
            if thin_light_init:
                # light_removed(b) = s  <=>  softplus(b) = s + ln 2 / beta
                beta = self.removal_sharpness
                with torch.no_grad():
                    self.layers[-1].bias[self.light_channels] = math.log(
                        2.0 * math.exp(beta * thin_light_init) - 1.0) / beta
        if self.residual:
            # Saved with the weights, so a checkpoint says how its weights are to be used
            # (loaders build the residual form when this key is present; the authors'
            # files have no such key and load into the plain form).
            self.register_buffer(RESIDUAL_MARKER, torch.ones(()))
        if self.removes_light:
            self.register_buffer(REMOVES_LIGHT_MARKER, torch.tensor(self.removal_sharpness))
        if self.thin_light_size:
            self.register_buffer(THIN_LIGHT_MARKER, torch.tensor(self.thin_light_size))
        if self.streak_length:
            self.register_buffer(STREAK_LIGHT_MARKER, torch.tensor(self.streak_length))
        if self.streak_restore:
            self.register_buffer(STREAK_RESTORE_MARKER, torch.tensor(self.streak_restore))
        if self.off_streak_light:
            self.register_buffer(OFF_STREAK_MARKER, torch.ones(()))
        if self.veil_scale:
            self.register_buffer(VEIL_MARKER, torch.tensor(self.veil_scale))
        if self.grey_light:
            self.register_buffer(GREY_LIGHT_MARKER, torch.ones(()))
        if self.airlight:
            self.register_buffer(AIRLIGHT_MARKER, torch.ones(()))
        if self.norm == 'none':
            self.register_buffer(NO_NORM_MARKER, torch.ones(()))

    def extra_repr(self) -> str:
        text = f'residual={self.residual}, zero_init_output={self.zero_init_output}'
        if self.removes_light:
            text += f', removes_light=True, removal_sharpness={self.removal_sharpness}'
        if self.thin_light_size:
            text += f', thin_light_size={self.thin_light_size}'
        if self.streak_length:
            text += f', streak_length={self.streak_length}'
        if self.streak_restore:
            text += f', streak_restore={self.streak_restore}'
        if self.off_streak_light:
            text += ', off_streak_light=True'
        if self.veil_scale:
            text += f', veil_scale={self.veil_scale}'
        if self.grey_light:
            text += ', grey_light=True'
        if self.airlight:
            text += ', airlight=True'
        if self.norm != 'instance':
            text += f', norm={self.norm!r}'
        return text

    def options(self) -> Dict[str, object]:
        """The options that change what the weights compute (saved with checkpoints)."""
        return dict(residual=self.residual, zero_init_output=self.zero_init_output,
                    removes_light=self.removes_light, thin_light_size=self.thin_light_size,
                    veil_scale=self.veil_scale, grey_light=self.grey_light,
                    airlight=self.airlight, streak_length=self.streak_length,
                    off_streak_light=self.off_streak_light,
                    streak_restore=self.streak_restore, norm=self.norm)

    def thin_light_mask(self, out: torch.Tensor) -> torch.Tensor:
        """The share (N, 1, H, W) of the thin light taken away, from the last layer's
        output: ``min(light_removed(z), 1)`` of its extra channel ``z``."""
        return self._share(out, self.light_channels)

    def off_streak_mask(self, out: torch.Tensor) -> torch.Tensor:
        """The share (N, 1, H, W) of the off-streak thin light taken away
        (``off_streak_light``): ``min(light_removed(z_o), 1)`` of the last channel."""
        return self._share(out, self.light_channels + 1)

    def _share(self, out: torch.Tensor, channel: int) -> torch.Tensor:
        z = out[:, channel:channel + 1]
        return light_removed(z, self.removal_sharpness).clamp(max=1.0)

    def thin_light(self, x: torch.Tensor) -> torch.Tensor:
        """The light the mask takes a share of: ``T_k(x)``, or the streak light
        ``S_{k,L}(x)`` when ``streak_length`` is set (restored with ``streak_restore``).
        (N, C, H, W) -> (N, C, H, W)."""
        if self.streak_length:
            return streak_light(x, self.thin_light_size, self.streak_length,
                                restore=self.streak_restore)
        return white_top_hat(x, self.thin_light_size)

    def veil(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` averaged over ``veil_scale``-pixel blocks and resized back bilinearly."""
        h, w = z.shape[-2:]
        s = self.veil_scale
        # blocks from the top-left corner; the last row/column of blocks may be partial
        # and is averaged over the pixels it has
        coarse = F.avg_pool2d(z, s, stride=s, ceil_mode=True)
        return F.interpolate(coarse, size=(h, w), mode='bilinear', align_corners=False)

    @property
    def combines_rowwise(self) -> bool:
        """True when row r of the output needs only row r of the input and of the last
        layer's output (not with the thin light's opening nor the veil's block means), so
        that :meth:`combine` can be applied band by band."""
        return not (self.thin_light_size or self.veil_scale)

    def combine(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The generator's output from its input ``x`` and the last layer's ``out``."""
        if not self.residual:
            return out
        if self.removes_light:
            z = out[:, :self.light_channels]  # (N, 1, H, W) broadcasts when grey
            if self.veil_scale:
                z = self.veil(z)
            thin = 0
            if self.off_streak_light:
                # the thin light once: its streak light and the rest, each with its mask
                whole = white_top_hat(x, self.thin_light_size)
                light = streak_light_of_thin(whole, self.streak_length,
                                             restore=self.streak_restore)
                thin = (self.thin_light_mask(out) * light
                        + self.off_streak_mask(out) * (whole - light))
            elif self.thin_light_size:
                thin = self.thin_light_mask(out) * self.thin_light(x)
            if self.airlight:
                a = light_removed(z[:, :1], self.removal_sharpness).clamp(max=MAX_OPACITY)
                return (x - thin - a * torch.tanh(z[:, 1:2])) / (1 - a)
            return x - light_removed(z, self.removal_sharpness) - thin
        return x + out

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.layers:
            out = layer(out)
        return self.combine(x, out)

    def check_layer_indices(self, layers: Sequence[int]) -> set:
        """``set(layers)``; raises ``ValueError`` for an index outside ``layers``."""
        wanted = set(layers)
        bad = [i for i in wanted if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'generator layer indices {bad} out of range [0, {self.num_layers})')
        return wanted

    def forward_features(self, x: torch.Tensor, layers: Sequence[int]) -> List[torch.Tensor]:
        """Outputs of the listed layer indices, computing no further than the last one.

        Args:
            x (Tensor): (N, in_channels, H, W).
            layers (Sequence[int]): Layer indices, e.g. (0, 2, 4, 8, 12).

        Returns:
            list[Tensor]: One (N, C_l, H, W) tensor per index, in the order given.
        """
        wanted = self.check_layer_indices(layers)
        if not wanted:
            return []
        feats = {}
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in wanted:
                feats[i] = x
                if len(feats) == len(wanted):
                    break
        return [feats[i] for i in layers]


@contextlib.contextmanager
def recording_features(net: DecompositionGenerator,
                       layers: Sequence[int]) -> Iterator[Dict[int, torch.Tensor]]:
    """Record the outputs of ``net.layers[i]`` for ``i`` in ``layers`` during the block.

    Works through distributed wrappers (forward hooks on the bare network's layers), so
    the taps of a forward the training step runs anyway can be reused instead of being
    computed again. Yields a dict ``layer index -> (N, C, H, W) output`` of the latest
    forward; the hooks are removed on exit.
    """
    wanted = net.check_layer_indices(layers)
    taps: Dict[int, torch.Tensor] = {}

    def hook(index):
        def record(module, inputs, output):
            taps[index] = output
        return record

    handles = [net.layers[i].register_forward_hook(hook(i)) for i in sorted(wanted)]
    try:
        yield taps
    finally:
        for handle in handles:
            handle.remove()
