"""Intrinsic-dimension estimators on point clouds of known dimension."""
import pytest
import torch

from nlcl_plugin.models.intrinsic_dim import levina_bickel_mle, patch_group_intrinsic_dim, two_nn
from nlcl_plugin.models.sampler import nonlocal_topk_batched, random_anchors


def subspace_points(d, n=1000, ambient=50, seed=0):
    """n Gaussian points of a random d-dimensional linear subspace of R^ambient."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(ambient, d, generator=g, dtype=torch.float64))[0]
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ basis.T


@pytest.mark.parametrize('d', [2, 5])
@pytest.mark.parametrize('estimator', [levina_bickel_mle, two_nn])
def test_estimators_recover_subspace_dimension(d, estimator):
    for seed in range(2):
        value = float(estimator(subspace_points(d, seed=seed)))
        assert abs(value - d) <= 0.25 * d, (estimator.__name__, d, value)


def test_estimators_ignore_duplicates_and_scale():
    x = subspace_points(3, n=600)
    ref = float(levina_bickel_mle(x))
    assert float(levina_bickel_mle(torch.cat([x, x[:50]]))) == pytest.approx(ref)
    assert float(levina_bickel_mle(7.0 * x)) == pytest.approx(ref)
    assert float(two_nn(torch.cat([x, x[:50]]))) == pytest.approx(float(two_nn(x)))
    with pytest.raises(ValueError, match='distinct points'):
        levina_bickel_mle(x[:5], k=10)


def test_patch_group_intrinsic_dim_is_seeded_and_uses_the_sampler():
    g = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 48, 56, generator=g)
    a = patch_group_intrinsic_dim(images, 64, generator=torch.Generator().manual_seed(1))
    b = patch_group_intrinsic_dim(images, 64, generator=torch.Generator().manual_seed(1))
    assert a.shape == (2,) and torch.equal(a, b)
    single = patch_group_intrinsic_dim(images[1], 64, method='twonn',
                                       generator=torch.Generator().manual_seed(3))
    assert single.dim() == 0 and torch.isfinite(single)
    # the same group, estimated by hand
    anchors = random_anchors(2, 48, 56, 16, torch.Generator().manual_seed(1))
    locs = nonlocal_topk_batched(images, anchors, 64)
    patches = torch.stack([images[1, :, h - 8:h + 8, w - 8:w + 8].flatten()
                           for h, w in locs[1].tolist()])
    assert float(a[1]) == pytest.approx(float(levina_bickel_mle(patches)), rel=1e-9)
    flat = patch_group_intrinsic_dim(torch.zeros(3, 32, 32), 64)
    assert torch.isnan(flat)  # no distinct patches: NaN, not an error
    with pytest.raises(ValueError, match="method.*'pca'"):
        patch_group_intrinsic_dim(images, 64, method='pca')


def test_patch_groups_of_low_dimensional_images_have_low_dimension():
    g = torch.Generator().manual_seed(4)
    # smooth horizontal ramps: patches differ by a few parameters only
    ramp = torch.linspace(-1, 1, 64)
    low = (ramp[None, None, :] * torch.rand(3, 1, 1, generator=g)).expand(3, 64, 64).contiguous()
    low = low + 0.2 * torch.sin(torch.linspace(0, 6, 64))[None, :, None]
    noise = torch.randn(3, 64, 64, generator=g)
    gen = torch.Generator().manual_seed(5)
    id_low = float(patch_group_intrinsic_dim(low, 128, generator=gen))
    id_noise = float(patch_group_intrinsic_dim(noise, 128, generator=gen))
    assert id_low < 5 < id_noise
