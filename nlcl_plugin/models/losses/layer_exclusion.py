"""Layer exclusion loss: what G_B removes is not correlated with what it leaves (beyond
the paper)."""
import torch
import torch.nn as nn

from ..detail_layer import DetailLayer

__all__ = ['LayerExclusionLoss', 'layer_correlation']


def layer_correlation(rainy: torch.Tensor, bg: torch.Tensor, detail: DetailLayer,
                      floor: float = 0.0) -> torch.Tensor:
    """c = <dR, dB> / (sqrt(|dR|^2 + M floor^2) |dB|) per image, R = rainy - bg, d the
    detail layer of the channel mean, M its number of pixels.

    With ``floor`` 0 it is the correlation of the two detail layers; the floor damps it
    where the removed layer's RMS is below ``floor`` (B close to O), so that it goes to 0
    with R instead of jumping with R's direction. (N, C, H, W) twice -> (N,); 0 where B
    has no detail.
    """
    if rainy.shape != bg.shape:
        raise ValueError(f'rainy {tuple(rainy.shape)} and bg {tuple(bg.shape)} must have the '
                         'same shape')
    removed = detail((rainy - bg).mean(1, keepdim=True)).flatten(1)
    left = detail(bg.mean(1, keepdim=True)).flatten(1)
    inner = (removed * left).sum(1)
    scale = ((removed.pow(2).sum(1) + removed.shape[1] * floor ** 2).sqrt()
             * left.pow(2).sum(1).sqrt())
    return torch.where(scale > 0, inner / scale.clamp(min=1e-12), torch.zeros_like(inner))


class LayerExclusionLoss(nn.Module):
    """loss_weight * mean_n relu(c_n - margin), c_n = :func:`layer_correlation` of the
    layer G_B removed from O (R = O - B) with what it left (B), on the grey detail layer.

    Rain is laid over a scene independently of its texture, so the true rain layer's
    detail is not positively correlated with the background's (on the demo's training
    cells c is -0.10 to -0.27 per rain kind for O - T against the rain-free twin T), in
    the spirit of the exclusion loss of layer separation (Zhang, Ng and Chen,
    "Single image reflection separation with perceptual losses", CVPR 2018, which
    penalises co-located gradients of the two layers). A removal that takes part of a
    streak and leaves the rest of it at the same pixels, or takes light from bright
    texture that stays bright, makes R and B correlated (c > 0): along the true rain,
    c falls as more of it is taken, and the unsupervised free removals end at c > 0 on
    every rain kind. The term pulls only while c is above ``margin``. Measured
    (``docs/training.md`` 4.23): from B = O the generator lowers c by removing light
    where B is dark (the texture's shadows), not by taking the streaks, which the term
    then holds. Not part of NLCL: off unless a config sets ``exclusion_loss``.

    Args:
        loss_weight (float): Multiplier of the loss.
        sigma (float): Blur of the detail layer's base (3, as the streak metrics').
        floor (float): RMS of the removed layer's detail, in the images' units ([-1, 1]),
            below which the correlation is damped (see :func:`layer_correlation`), >= 0.
        margin (float): The correlation above which the term pulls.

    Shapes:
        forward: rainy O, background B, both (N, C, H, W) -> scalar.
    """

    def __init__(self, loss_weight: float = 1.0, sigma: float = 3.0, floor: float = 0.01,
                 margin: float = 0.0):
        super().__init__()
        if not floor >= 0:
            raise ValueError(f'LayerExclusionLoss: floor must be >= 0, got {floor}')
        if not -1.0 <= margin < 1.0:
            raise ValueError(f'LayerExclusionLoss: margin must be in [-1, 1), got {margin}')
        self.loss_weight = loss_weight
        self.floor, self.margin = float(floor), float(margin)
        self.detail = DetailLayer(sigma)

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, sigma={self.detail.sigma}, '
                f'floor={self.floor}, margin={self.margin}')

    def forward(self, rainy: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
        c = layer_correlation(rainy, bg, self.detail, self.floor)
        return self.loss_weight * torch.relu(c - self.margin).mean()
