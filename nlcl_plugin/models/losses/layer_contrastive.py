"""Layer-contrastive loss: background and rain patch groups must separate in D's features.

Implements the released supervised-contrastive "DisNCE" loss (spec §4.3) and, by
splitting it by anchor group, the asymmetric form this project uses for the TPAMI
paper's asymmetric contrastive loss (spec §4.7).
"""
import functools
import math
from typing import Optional, Union

import torch
import torch.nn as nn

__all__ = ['TPAMI_ASYMMETRIC_DEFAULTS', 'LayerContrastiveLoss']

#: Settings of the asymmetric loss in the TPAMI-style configurations: a sharper
#: temperature for the compact, low-intrinsic-dimension rain group, a looser one for the
#: higher-dimensional background group, and both groups weighted equally (the released
#: mean over anchors gives the 128 rain anchors 94 % of the weight).
TPAMI_ASYMMETRIC_DEFAULTS = dict(tau_bg=0.1, tau_rain=0.05, weight_bg=0.5, weight_rain=0.5)

Scalar = Union[float, torch.Tensor]


class _InstanceOrClassMethod:
    """Binds the wrapped function to the instance, or to None when read from the class."""

    def __init__(self, func):
        self.func = func
        functools.update_wrapper(self, func)

    def __get__(self, obj, objtype=None):
        return functools.partial(self.func, obj)


class LayerContrastiveLoss(nn.Module):
    """Supervised-contrastive loss between a background group and a rain group.

    The embeddings z (unit vectors) of the background group (label 1, e.g. 8 non-local
    patches of B) and of the rain group (label 0, e.g. 128 non-local patches of R) are
    pooled; every vector is an anchor. For anchor i of group g(i), with temperature
    tau_i = tau of g(i) (numerator and denominator alike)::

        l_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / tau_i)
                                             / sum_{a != i} exp(z_i.z_a / tau_i) )

    where P(i) are the other members of i's group. Reduction:

    * ``weight_bg = weight_rain = None``: the mean of l_i over all anchors, exactly the
      released loss (with tau_bg = tau_rain = 0.07);
    * otherwise ``weight_bg * mean_{i in bg} l_i + weight_rain * mean_{i in rain} l_i``.

    **Asymmetric form.** The TPAMI paper's asymmetric loss could not be read from the
    sources available (spec §4.7); this project implements it as the split above, with a
    temperature and a weight per anchor group: :data:`TPAMI_ASYMMETRIC_DEFAULTS`
    (tau_bg = 0.1, tau_rain = 0.05, weights 0.5 / 0.5) pulls the low-dimensional rain
    group into a tighter cluster than the higher-dimensional background group and
    balances the two groups. With equal temperatures and weights
    n_bg / (n_bg + n_rain), n_rain / (n_bg + n_rain) it equals the symmetric loss.

    **Intrinsic-dimension-adaptive temperatures** (``id_adaptive=True``): ``forward``
    takes the intrinsic dimensions of the two groups (e.g. from
    :func:`nlcl_plugin.models.intrinsic_dim.patch_group_intrinsic_dim`) and uses
    tau_g * id_g / id_reference for group g (treated as constants, no gradient), so a
    group of lower dimension than the reference gets a sharper temperature.

    Batched inputs (B, N_g, D) contrast each sample's two groups separately (no
    negatives across samples) and average the B per-sample losses. Computed with
    log-sum-exp; the diagonal is excluded exactly.

    Args:
        tau_bg (float): Temperature of background anchors (0.07).
        tau_rain (float): Temperature of rain anchors (0.07).
        weight_bg (float, optional): Weight of the background anchors' mean.
        weight_rain (float, optional): Weight of the rain anchors' mean (both or neither
            given).
        loss_weight (float): Multiplier of the whole loss (1.0).
        id_adaptive (bool): Scale temperatures by intrinsic dimension.
        id_reference (float, optional): Reference dimension (> 0), needed with
            ``id_adaptive``.

    Shapes:
        forward: z_bg (N_b, D) or (B, N_b, D), z_rain (N_r, D) or (B, N_r, D), N_b, N_r
        >= 2, L2-normalised -> scalar.
    """

    def __init__(self,
                 tau_bg: float = 0.07,
                 tau_rain: float = 0.07,
                 weight_bg: Optional[float] = None,
                 weight_rain: Optional[float] = None,
                 loss_weight: float = 1.0,
                 id_adaptive: bool = False,
                 id_reference: Optional[float] = None):
        super().__init__()
        if tau_bg <= 0 or tau_rain <= 0:
            raise ValueError(f'LayerContrastiveLoss tau_bg and tau_rain must be > 0, got '
                             f'{tau_bg}, {tau_rain}')
        if (weight_bg is None) != (weight_rain is None):
            raise ValueError('LayerContrastiveLoss weight_bg and weight_rain must both be '
                             f'given or both be None, got {weight_bg}, {weight_rain}')
        if id_adaptive and (id_reference is None or id_reference <= 0):
            raise ValueError('LayerContrastiveLoss id_adaptive=True needs id_reference > 0, '
                             f'got {id_reference}')
        self.tau_bg = tau_bg
        self.tau_rain = tau_rain
        self.weight_bg = weight_bg
        self.weight_rain = weight_rain
        self.loss_weight = loss_weight
        self.id_adaptive = id_adaptive
        self.id_reference = id_reference

    def extra_repr(self) -> str:
        s = (f'tau_bg={self.tau_bg}, tau_rain={self.tau_rain}, weight_bg={self.weight_bg}, '
             f'weight_rain={self.weight_rain}, loss_weight={self.loss_weight}')
        if self.id_adaptive:
            s += f', id_adaptive=True, id_reference={self.id_reference}'
        return s

    @_InstanceOrClassMethod
    def floor(self: Optional['LayerContrastiveLoss'],
              n_bg: int,
              n_rain: int,
              weight_bg: Optional[float] = None,
              weight_rain: Optional[float] = None) -> float:
        """The loss's infimum: each anchor term is >= ln(|P(i)|) = ln(n_g - 1).

        It is approached when each group collapses to one vector and the groups are
        orthogonal or opposite (the negatives' share vanishes), whatever the
        temperatures. Released setting: (8 ln 7 + 128 ln 127) / 136 = 4.6737.

        Read from the class (``LayerContrastiveLoss.floor(8, 128)``) the weights are the
        arguments (None: mean over anchors). Read from an instance, missing weights are
        the instance's and the result is multiplied by its ``loss_weight``, i.e. it is
        the floor of what ``forward`` returns.

        Args:
            n_bg (int): Background group size (>= 2).
            n_rain (int): Rain group size (>= 2).
            weight_bg (float, optional): Background anchors' weight.
            weight_rain (float, optional): Rain anchors' weight.

        Returns:
            float: The floor.
        """
        scale = 1.0
        if self is not None:
            if weight_bg is None and weight_rain is None:
                weight_bg, weight_rain = self.weight_bg, self.weight_rain
            scale = float(self.loss_weight)
        if n_bg < 2 or n_rain < 2:
            raise ValueError(f'each group needs >= 2 members, got n_bg={n_bg}, n_rain={n_rain}')
        if (weight_bg is None) != (weight_rain is None):
            raise ValueError('weight_bg and weight_rain must both be given or both be None')
        if weight_bg is None:
            value = (n_bg * math.log(n_bg - 1) + n_rain * math.log(n_rain - 1)) / (n_bg + n_rain)
        else:
            value = weight_bg * math.log(n_bg - 1) + weight_rain * math.log(n_rain - 1)
        return scale * value

    def _temperature(self, tau: float, id_group: Optional[Scalar], name: str,
                     ref: torch.Tensor) -> torch.Tensor:
        """Group temperature as a (B, 1) tensor (B = 1 or the batch)."""
        t = torch.as_tensor(tau, dtype=ref.dtype, device=ref.device)
        if self.id_adaptive:
            if id_group is None:
                raise ValueError(f'LayerContrastiveLoss(id_adaptive=True) needs {name}')
            ids = torch.as_tensor(id_group, dtype=ref.dtype, device=ref.device).detach()
            t = t * ids / self.id_reference
            if bool((ids <= 0).any()) or not bool(torch.isfinite(ids).all()):
                raise ValueError(f'{name} must be positive and finite, got {id_group}')
        return t.reshape(-1, 1)

    def forward(self,
                z_bg: torch.Tensor,
                z_rain: torch.Tensor,
                id_bg: Optional[Scalar] = None,
                id_rain: Optional[Scalar] = None) -> torch.Tensor:
        """Args:
            z_bg (Tensor): Background embeddings (N_b, D) or (B, N_b, D).
            z_rain (Tensor): Rain embeddings (N_r, D) or (B, N_r, D).
            id_bg (float | Tensor, optional): Background intrinsic dimension, scalar or
                (B,) (only with ``id_adaptive``).
            id_rain (float | Tensor, optional): Rain intrinsic dimension, likewise.

        Returns:
            Tensor: Scalar loss.
        """
        if z_bg.dim() != z_rain.dim() or z_bg.dim() not in (2, 3):
            raise ValueError(f'z_bg and z_rain must both be (N, D) or (B, N, D), got '
                             f'{tuple(z_bg.shape)} and {tuple(z_rain.shape)}')
        if z_bg.dim() == 2:
            z_bg, z_rain = z_bg[None], z_rain[None]
        if z_bg.shape[0] != z_rain.shape[0] or z_bg.shape[2] != z_rain.shape[2]:
            raise ValueError(f'z_bg {tuple(z_bg.shape)} and z_rain {tuple(z_rain.shape)} '
                             'differ in batch or embedding size')
        nb, nr = z_bg.shape[1], z_rain.shape[1]
        if nb < 2 or nr < 2:
            raise ValueError(f'each group needs >= 2 embeddings, got {nb} and {nr}')
        z = torch.cat([z_bg, z_rain], dim=1)  # (B, N, D)
        n = nb + nr
        tau_b = self._temperature(self.tau_bg, id_bg, 'id_bg', z)
        tau_r = self._temperature(self.tau_rain, id_rain, 'id_rain', z)
        tau_b, tau_r = torch.broadcast_tensors(tau_b, tau_r)
        tau = torch.cat([tau_b.expand(-1, nb), tau_r.expand(-1, nr)], dim=1)  # (B' = 1 or B, N)
        logits = torch.bmm(z, z.transpose(1, 2)) / tau[:, :, None]  # row i scaled by tau_i
        eye = torch.eye(n, dtype=torch.bool, device=z.device)
        log_den = torch.logsumexp(logits.masked_fill(eye, float('-inf')), dim=2)  # (B, N)
        is_bg = torch.arange(n, device=z.device) < nb
        positive = (is_bg[:, None] == is_bg[None, :]) & ~eye  # (N, N)
        pos_mean = (logits * positive).sum(dim=2) / positive.sum(dim=1)
        per_anchor = log_den - pos_mean  # (B, N): l_i
        if self.weight_bg is None:
            per_sample = per_anchor.mean(dim=1)
        else:
            per_sample = (self.weight_bg * per_anchor[:, :nb].mean(dim=1) +
                          self.weight_rain * per_anchor[:, nb:].mean(dim=1))
        return self.loss_weight * per_sample.mean()
