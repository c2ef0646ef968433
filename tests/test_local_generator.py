"""The generator without feature normalisation (``norm='none'``): a local function of its
input, rebuilt in that form from its checkpoints."""
import pytest
import torch
import torch.nn.functional as F

from nlcl_plugin.models import DecompositionGenerator
from nlcl_plugin.models.checkpoint import build_generator
from nlcl_plugin.models.generator import NO_NORM_MARKER, ConvNormConv, ResBlock


def _random_output(g):
    # a zero-initialised output conv would hide every dependence on the input
    torch.nn.init.normal_(g.layers[-1].weight, std=0.1)
    return g


@pytest.mark.parametrize('blocks', [1, 2, 4])
def test_output_depends_on_the_receptive_field_only(blocks):
    torch.manual_seed(0)
    # the plain form: the network's own output (the removal is applied pixel by pixel)
    g = DecompositionGenerator(mid_channels=8, num_blocks=blocks, norm='none').eval()
    radius = 2 * blocks + 4  # 3x3 convs: input conv, two per block, two in the tail, output
    x = torch.rand(1, 3, 48, 48) * 2 - 1
    c = 24
    with torch.no_grad():
        ref = g(x)[0, :, c, c]
        # brute force: change every pixel outside the window, one square ring at a time
        for r in range(radius + 1, 24):
            y = x.clone()
            ring = torch.ones(48, 48, dtype=torch.bool)
            ring[c - r + 1:c + r, c - r + 1:c + r] = False
            y[:, :, ring] = torch.rand(int(ring.sum())) * 2 - 1
            torch.testing.assert_close(g(y)[0, :, c, c], ref, rtol=0, atol=1e-6)
    # ... and the window's edge does reach it (its paths are too weak for a perturbation
    # to show above rounding, so the gradient says it)
    xg = x.clone().requires_grad_(True)
    g(xg)[0, :, c, c].sum().backward()
    reach = xg.grad.abs().sum(1)[0] > 0
    rows, cols = torch.nonzero(reach, as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (
        c - radius, c + radius, c - radius, c + radius)


def test_instance_norm_generator_is_not_local():
    torch.manual_seed(0)
    g = _random_output(DecompositionGenerator(mid_channels=8, num_blocks=1)).eval()
    x = torch.rand(1, 3, 48, 48)
    y = x.clone()
    y[:, :, 40:, 40:] += 1.0  # far outside the 13-pixel window around (8, 8)
    with torch.no_grad():
        assert (g(y)[0, :, 8, 8] - g(x)[0, :, 8, 8]).abs().max() > 1e-4


def test_blocks_without_norm_match_a_hand_computation():
    torch.manual_seed(0)
    block, tail = ResBlock(4, norm='none'), ConvNormConv(4, norm='none')
    x = torch.randn(2, 4, 9, 7)

    def conv(c, t):
        return F.conv2d(t, c.weight, c.bias, padding=1)

    with torch.no_grad():
        torch.testing.assert_close(block(x), x + conv(block.conv2, conv(block.conv1, x).clamp(min=0)))
        torch.testing.assert_close(tail(x), conv(tail.conv2, conv(tail.conv1, x).clamp(min=0)))
    # the default keeps the authors' InstanceNorm
    with torch.no_grad():
        assert not torch.allclose(ResBlock(4)(x), x + conv(block.conv2, conv(block.conv1, x).clamp(min=0)))


def test_norm_is_validated_and_saved(tmp_path):
    with pytest.raises(ValueError, match='norm'):
        DecompositionGenerator(norm='batch')
    with pytest.raises(ValueError, match='norm'):
        ResBlock(4, norm='layer')
    assert NO_NORM_MARKER not in DecompositionGenerator(mid_channels=4, num_blocks=1).state_dict()
    torch.manual_seed(0)
    g = _random_output(DecompositionGenerator(mid_channels=8, num_blocks=2, norm='none',
                                              residual=True, zero_init_output=True,
                                              removes_light=True)).eval()
    assert g.options()['norm'] == 'none' and "norm='none'" in repr(g)
    path = tmp_path / 'local.pth'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in g.state_dict().items()}}, path)
    rebuilt = build_generator(str(path)).eval()
    assert rebuilt.norm == 'none' and rebuilt.num_blocks == 2
    x = torch.rand(1, 3, 20, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), g(x))


def test_hosts_build_the_local_form_from_their_configs():
    pytest.importorskip('mmagic')
    pytest.importorskip('basicsr')
    from basicsr.archs import build_network
    from mmengine.registry import DefaultScope

    import nlcl_plugin.basicsr  # noqa: F401
    import nlcl_plugin.mmagic  # noqa: F401
    from mmagic.registry import MODELS

    with DefaultScope.overwrite_default_scope('mmagic'):
        mm = MODELS.build(dict(type='DecompositionGenerator', mid_channels=8, num_blocks=2,
                               norm='none'))
    bs = build_network(dict(type='NLCLGenerator', mid_channels=8, num_blocks=2, norm='none'))
    for g in (mm, bs):
        assert g.norm == 'none' and all(b.norm == 'none' for b in g.layers[1:-1])
        assert NO_NORM_MARKER in g.state_dict()


def test_location_taps_beyond_a_short_generator_name_the_config_key():
    """The location loss taps G_B even at weight 0: with 4 blocks the default taps
    (0, 2, 4, 8, 12) do not exist, and both hosts say which key to set when they build."""
    pytest.importorskip('mmagic')
    pytest.importorskip('basicsr')
    from basicsr.models import build_model
    from mmengine.registry import DefaultScope
    from test_basicsr_adapter import tiny_opt
    from test_mmagic_nlcl import tiny_model_cfg

    import nlcl_plugin.mmagic  # noqa: F401
    from mmagic.registry import MODELS

    short = dict(type='DecompositionGenerator', mid_channels=8, num_blocks=4, norm='none')
    with DefaultScope.overwrite_default_scope('mmagic'):
        with pytest.raises(ValueError, match=r'model\.objective\.loc_layers=\(0, 2, 4, 8, 12\)'):
            MODELS.build(tiny_model_cfg(generator=short))
        ok = MODELS.build(tiny_model_cfg(generator=short, loc_layers=(0, 2, 4, 6)))
    assert ok.nlcl_objective.loc_layers == (0, 2, 4, 6)
    opt = tiny_opt()
    opt['network_g'] = dict(type='NLCLGenerator', mid_channels=8, num_blocks=4, norm='none')
    with pytest.raises(ValueError, match=r'train\.objective\.loc_layers=.*layers 0 \(input'):
        build_model(opt)
    opt['train']['objective'] = dict(opt['train']['objective'], loc_layers=(0, 2, 4, 6))
    assert build_model(opt).objective.loc_layers == (0, 2, 4, 6)
