"""Which loss terms raise or lower G_B's streak-light mask (nlcl_plugin/evaluation/
mask_forces.py, tools/mask_forces.py): the sparsity term's push against its gradient
worked out by hand, the pixel groups by construction."""
import json
import math
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import mask_forces as mask_forces_tool  # noqa: E402

import nlcl_plugin.mmagic  # noqa: E402,F401
from mmagic.registry import MODELS  # noqa: E402
from nlcl_plugin.evaluation.mask_forces import mask_forces, pixel_groups  # noqa: E402
from test_mmagic_nlcl import TINY_OBJECTIVE  # noqa: E402

GENERATOR = dict(type='DecompositionGenerator', mid_channels=8, num_blocks=4, residual=True,
                 zero_init_output=True, removes_light=True, thin_light_size=3,
                 streak_length=5, thin_light_init=0.5)


def model_cfg(**generator):
    return dict(
        type='NLCL',
        generator=dict(GENERATOR, **generator),
        rain_generator=dict(type='DecompositionGenerator', mid_channels=8, num_blocks=4),
        discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
        gan_loss=dict(type='GANLoss', gan_type='lsgan', loss_weight=1.0),
        layer_loss=dict(type='LayerContrastiveLoss'),
        objective=dict(TINY_OBJECTIVE, gen_channels=8, embed_channels=16, loc_layers=(0, 2, 4)),
        data_preprocessor=dict(type='DataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3))


def build(**generator):
    with DefaultScope.overwrite_default_scope('mmagic'):
        return MODELS.build(model_cfg(**generator))


def crops(seed=0, n=2, size=32):
    """Rainy crops: a smooth twin plus vertical lines, half of them also in the twin."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(-0.5, 0.5, size)
    twin = (yy[:, None] + 0 * yy[None]).expand(n, 3, size, size).clone()
    twin = twin + 0.02 * torch.randn(n, 3, size, size, generator=g)
    rainy = twin.clone()
    rainy[..., 4:28, 6] += 0.6    # rain
    twin[..., 4:28, 20] += 0.6    # texture: in the twin too
    rainy[..., 4:28, 20] += 0.6
    clean = 0.5 * torch.rand(n, 3, size, size, generator=g) - 0.25
    return rainy, twin, clean


def test_pixel_groups_by_construction():
    rainy, twin, _ = crops()
    light = torch.zeros_like(rainy)
    light[..., 4:28, 6] = 0.6
    light[..., 4:28, 20] = 0.6
    groups = pixel_groups(light, rainy, twin)
    assert groups['rain'][:, 4:28, 6].all() and groups['texture'][:, 4:28, 20].all()
    assert int(groups['rain'].sum()) == 2 * 24 and int(groups['texture'].sum()) == 2 * 24


def test_sparsity_push_is_its_gradient_by_hand():
    """sparsity = w mean|O - B| with O - B = light_removed(z) + m S: on the mask's
    pre-activation z_m its push is -w/numel * sum_c sign(O - B) S * sigmoid(beta z_m)
    (where m < 1)."""
    torch.manual_seed(0)
    model = build()
    g = model.generator
    torch.nn.init.normal_(g.layers[-1].weight, std=0.05)
    rainy, twin, clean = crops()
    res = mask_forces(model, rainy, twin, clean)
    assert {'loss_gan', 'loss_loc', 'loss_layer', 'loss_consistency', 'loss_sparsity',
            'mask'} <= set(res)
    with torch.no_grad():
        out = rainy
        for layer in g.layers:
            out = layer(out)
        z_m = out[:, 3].double()
        s = g.thin_light(rainy).double()
        v = (rainy - g(rainy)).double()
        w = model.nlcl_objective.sparsity_loss.loss_weight
        beta = g.removal_sharpness
        m = torch.nn.functional.softplus(z_m, beta=beta) - math.log(2.0) / beta
        dm = torch.sigmoid(beta * z_m) * (m < 1)
        push = -w / v.numel() * (torch.sign(v) * s).sum(1) * dm
    groups = pixel_groups(g.thin_light(rainy), rainy, twin)
    for key, sel in (('rain', groups['rain']), ('texture', groups['texture']),
                     ('all', torch.ones_like(groups['rain']))):
        assert res['loss_sparsity'][key] == pytest.approx(float(push[sel].sum()), rel=1e-4,
                                                          abs=1e-12)
    assert res['loss_sparsity']['all'] < 0  # sparsity always lowers the mask
    assert 0 < res['mask']['all'] < 1 and res['mask']['rain_pixels'] > 0
    # D's parameters are left as they were
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_a_term_that_does_not_reach_the_mask_pushes_nothing():
    """The identity loss acts on G_B(B_u), the clean crops' mask, and the idempotence loss
    on G_B(sg(B))'s: on the rainy crops' mask they push 0 on every pixel (their values are
    still reported). A term at weight 0 pushes 0 too, and the other terms' pushes are
    those of the same model with it on."""
    torch.manual_seed(0)
    cfg = model_cfg()
    cfg['identity_loss'] = dict(type='IdentityLoss', loss_weight=5.0)
    cfg['idempotence_loss'] = dict(type='IdempotenceLoss', loss_weight=5.0)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
    torch.nn.init.normal_(model.generator.layers[-1].weight, std=0.05)
    rainy, twin, clean = crops()
    on = mask_forces(model, rainy, twin, clean)
    assert on['loss_identity']['value'] > 0
    assert on['loss_idempotence']['value'] > 0
    for name in ('loss_identity', 'loss_idempotence'):
        assert {k: on[name][k] for k in ('rain', 'texture', 'all')} == dict(
            rain=0.0, texture=0.0, all=0.0)
    assert on['loss_loc']['all'] != 0.0
    model.nlcl_objective.loc_loss.loss_weight = 0.0
    off = mask_forces(model, rainy, twin, clean)
    assert off['loss_loc'] == dict(value=0.0, rain=0.0, texture=0.0, all=0.0)
    for name in ('loss_gan', 'loss_sparsity', 'loss_consistency'):
        assert off[name]['all'] == pytest.approx(on[name]['all'], rel=1e-5, abs=1e-12)


def test_a_generator_without_a_mask_is_refused():
    model = build(thin_light_size=0, streak_length=0, thin_light_init=0.0)
    rainy, twin, clean = crops()
    with pytest.raises(ValueError, match='no streak/thin light mask'):
        mask_forces(model, rainy, twin, clean)


def test_tool_runs_on_a_checkpoint(tmp_path, capsys):
    torch.manual_seed(1)
    model = build()
    ckpt = tmp_path / 'iter_1.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text('model = ' + repr(model_cfg()) + '\n')
    rainy, twin, clean = crops(n=3, size=40)
    for sub, batch in (('rainy', rainy), ('twin', twin), ('clean', clean)):
        (tmp_path / sub).mkdir()
        for i, t in enumerate(batch):
            img = ((t.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)
            cv2.imwrite(str(tmp_path / sub / f'{i}.png'), img[..., ::-1])
    out = tmp_path / 'f.json'
    args = [str(cfg), str(ckpt), '--inputs', str(tmp_path / 'rainy'), '--targets',
            str(tmp_path / 'twin'), '--clean', str(tmp_path / 'clean'), '--crop', '32',
            '--batch', '2', '--json', str(out)]
    assert mask_forces_tool.main(args + ['--figure', str(tmp_path / 'm.png'),
                                         '--figure-with', str(cfg), str(ckpt)]) == 0
    figure = cv2.imread(str(tmp_path / 'm.png'))[..., ::-1]
    assert figure.shape == (2 * 32, 5 * 32, 3)
    assert np.array_equal(figure[:, 96:128], figure[:, 128:160])  # the same model twice
    # third panel (centre crops: 4 pixels in): the rain line green, the texture line red
    assert (figure[4:20, 64 + 2] == (0, 200, 0)).all()
    assert (figure[4:20, 64 + 16] == (220, 0, 0)).all()
    text = capsys.readouterr().out
    assert '| loss_gan |' in text and '3 crops of 32 px' in text
    assert json.loads(out.read_text())['mask']['rain_pixels'] > 0
    assert mask_forces_tool.main(args[:2] + ['--crop', '64'] + args[2:8]) == 2
    assert 'at least 64 pixels' in capsys.readouterr().err
