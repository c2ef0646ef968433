"""Architecture facts of NLCL's networks (counts and shapes from the released model)."""
import pytest
import torch

from nlcl_plugin.models import (BlurDownsample, DecompositionGenerator, PatchDiscriminator,
                                ProjectionHeads)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_generator_parameter_count_and_layers():
    g = DecompositionGenerator()
    assert n_params(g) == 316195
    assert g.num_layers == 19


@pytest.mark.parametrize('hw', [(17, 23), (32, 32), (40, 64)])
def test_generator_keeps_size_and_taps(hw):
    g = DecompositionGenerator()
    x = torch.randn(2, 3, *hw)
    y = g(x)
    assert y.shape == x.shape
    taps = g.forward_features(x, [0, 2, 4, 8, 12])
    assert [tuple(t.shape) for t in taps] == [(2, 32, *hw)] * 5
    # taps equal running the layers by hand
    h = x
    manual = {}
    for i, layer in enumerate(g.layers):
        h = layer(h)
        manual[i] = h
    for i, t in zip([0, 2, 4, 8, 12], taps):
        torch.testing.assert_close(t, manual[i])
    torch.testing.assert_close(manual[18], y)
    # order of the indices given is kept
    assert torch.equal(g.forward_features(x, [4, 0])[1], taps[0])


def test_generator_resblock_is_residual_with_instance_norm():
    g = DecompositionGenerator()
    block = g.layers[1]
    x = torch.randn(1, 32, 9, 11)
    f = torch.nn.functional
    ref = f.instance_norm(block.conv1(x))
    ref = x + f.instance_norm(block.conv2(torch.relu(ref)))
    torch.testing.assert_close(block(x), ref)


def test_generator_rejects_bad_tap():
    with pytest.raises(ValueError, match='out of range'):
        DecompositionGenerator().forward_features(torch.zeros(1, 3, 8, 8), [19])


def test_discriminator_counts_and_taps():
    d = PatchDiscriminator()
    assert n_params(d) == 2764737
    x = torch.randn(1, 3, 256, 256)
    feats = d.forward_features(x, (0, 3, 7, 11), include_input=True)
    assert [tuple(f.shape) for f in feats] == [(1, 3, 256, 256), (1, 64, 255, 255),
                                              (1, 128, 127, 127), (1, 256, 63, 63),
                                              (1, 512, 31, 31)]
    assert feats[0] is x
    assert d(x).shape == (1, 1, 30, 30)
    # taps are pre-norm conv outputs: layer 3 output equals conv applied to blurred L1
    with torch.no_grad():
        h = d.model[2](d.model[1](d.model[0](x)))
        torch.testing.assert_close(d.model[3](h), feats[2])


def test_discriminator_taps_follow_its_depth():
    d = PatchDiscriminator(num_layers=1, base_channels=8)
    assert d.channels_of_taps((0, 3)) == (8, 16)
    x = torch.randn(1, 3, 32, 32)
    assert [f.shape[1] for f in d.forward_features(x, (0, 3))] == [8, 16]
    with pytest.raises(ValueError, match=r'taps \[7, 11\].*num_layers=1.*\[0, 3\]'):
        d.channels_of_taps((0, 3, 7, 11))
    assert PatchDiscriminator().channels_of_taps((0, 3, 7, 11)) == (64, 128, 256, 512)


def test_discriminator_init_and_blur():
    d = PatchDiscriminator()
    for m in d.modules():
        if isinstance(m, torch.nn.Conv2d):
            assert torch.all(m.bias == 0)
            fan = m.weight[0].numel() + m.weight.shape[0] * m.weight[0, 0].numel()
            expected_std = 0.02 * (2.0 / fan)**0.5
            assert abs(m.weight.std().item() / expected_std - 1) < 0.2
    blur = BlurDownsample(1)
    x = torch.arange(36.).reshape(1, 1, 6, 6)
    y = blur(x)
    assert y.shape == (1, 1, 3, 3)
    # by hand: reflect-pad, [1,2,1]x[1,2,1]/16 at even positions
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1), mode='reflect')[0, 0]
    k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]) / 16
    for i in range(3):
        for j in range(3):
            assert torch.isclose(y[0, 0, i, j], (xp[2 * i:2 * i + 3, 2 * j:2 * j + 3] * k).sum())
    assert 'kernel' not in d.state_dict() and not any('kernel' in k for k in d.state_dict())


def test_projection_heads():
    loc = ProjectionHeads([32] * 5)
    layer = ProjectionHeads([3, 64, 128, 256, 512])
    assert n_params(loc) == 371200
    assert n_params(layer) == 576768
    xs = [torch.randn(7, c) for c in (3, 64, 128, 256, 512)]
    zs = layer(xs)
    assert [tuple(z.shape) for z in zs] == [(7, 256)] * 5
    for x, mlp, z in zip(xs, layer.mlps, zs):
        h = mlp[2](torch.relu(mlp[0](x)))
        torch.testing.assert_close(z, h / (h.norm(dim=-1, keepdim=True) + 1e-7))
        assert torch.all(z.norm(dim=-1) <= 1)
    with pytest.raises(ValueError):
        layer([torch.randn(2, 3)])
    # eager: every parameter exists before any forward
    assert all(p.numel() > 0 for p in ProjectionHeads([5]).parameters())
