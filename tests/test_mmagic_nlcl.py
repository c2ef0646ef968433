"""The NLCL model inside MMagic: one training step, loss bookkeeping, legacy defects."""
import copy

import numpy as np
import pytest
import torch

from nlcl_plugin.models.losses import transplant

pytest.importorskip('mmagic')

from mmengine.registry import DefaultScope  # noqa: E402

import nlcl_plugin.mmagic  # noqa: E402,F401
from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402
from mmagic.structures import DataSample  # noqa: E402

TINY_OBJECTIVE = dict(num_loc_patches=16, num_bg_patches=4, num_rain_patches=8, patch_size=8,
                      search_size=12)


def tiny_model_cfg(identity_loss=None, transplant_loss=None, idempotence_loss=None,
                   generator=None, streak_floor_loss=None, exclusion_loss=None, **objective):
    return dict(
        type='NLCL',
        generator=generator or dict(type='DecompositionGenerator', mid_channels=8),
        rain_generator=dict(type='DecompositionGenerator', mid_channels=8),
        discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
        gan_loss=dict(type='GANLoss', gan_type='lsgan', loss_weight=1.0),
        layer_loss=dict(type='LayerContrastiveLoss'),
        identity_loss=identity_loss,
        transplant_loss=transplant_loss,
        idempotence_loss=idempotence_loss,
        streak_floor_loss=streak_floor_loss,
        exclusion_loss=exclusion_loss,
        objective=dict(TINY_OBJECTIVE, gen_channels=8, embed_channels=16, **objective),
        data_preprocessor=dict(type='DataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3))


def optim_cfg(legacy=False):
    adam = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
    cfg = dict(
        generator=dict(type='OptimWrapper', optimizer=adam,
                       modules=['generator', 'rain_generator', 'objective']),
        discriminator=dict(type='OptimWrapper', optimizer=adam, modules=['discriminator']))
    if legacy:
        cfg['rain_heads_legacy'] = dict(type='OptimWrapper', optimizer=adam,
                                        modules=['objective.rain_sampler'])
    return cfg


def build(legacy=False, identity_loss=None, transplant_loss=None, idempotence_loss=None,
          generator=None, streak_floor_loss=None, exclusion_loss=None, **objective):
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(tiny_model_cfg(identity_loss, transplant_loss, idempotence_loss,
                                            generator, streak_floor_loss, exclusion_loss,
                                            **objective))
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim_cfg(legacy)))
        return model, ctor(model)


def batch(n=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g).float() for _ in range(n)]
    samples = []
    for _ in range(n):
        s = DataSample()
        s.gt_img = torch.randint(0, 256, (3, size, size), generator=g).float()
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('objective', [{}, dict(disc_augment='dihedral')])
def test_train_step_logs_finite_losses_and_grads_every_parameter(objective):
    torch.manual_seed(0)
    model, optims = build(**objective)
    assert model.nlcl_objective.augments == bool(objective)  # the model trains
    got_grad = set()
    for name, p in model.named_parameters():
        assert p.requires_grad, name
        p.register_hook(lambda g, n=name: got_grad.add(n) if torch.isfinite(g).all() else None)
    logs = model.train_step(batch(), optims)
    for key in ('loss_d', 'loss_d_fake', 'loss_d_real', 'loss_g', 'loss_gan', 'loss_loc',
                'loss_layer', 'loss_consistency', 'loss_sparsity', 'layer_floor_gap'):
        assert key in logs and torch.isfinite(torch.as_tensor(logs[key])), key
    missing = {n for n, _ in model.named_parameters()} - got_grad
    assert not missing, f'no gradient for {sorted(missing)[:5]}'
    assert logs['layer_floor_gap'] >= -1e-4


def test_a_shallower_discriminator_trains_with_its_own_taps():
    """``discriminator.num_layers=1`` (receptive field 18 px) with the layer loss on its
    two conv taps; the default taps name the missing ones."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg(disc_layers=(0, 3))
    cfg['discriminator']['num_layers'] = 1
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
        optims = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim_cfg()))(model)
        logs = model.train_step(batch(), optims)
        assert torch.isfinite(torch.as_tensor(logs['loss_layer']))
        assert model.nlcl_objective.disc_layers == (0, 3)
        cfg = tiny_model_cfg()
        cfg['discriminator']['num_layers'] = 1
        with pytest.raises(ValueError, match='objective.disc_layers'):
            MODELS.build(cfg)


def test_discriminator_warm_up_leaves_the_generators_alone():
    """``train_cfg.disc_init_steps=2``: two D-only iterations, then both steps."""
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    cfg['train_cfg'] = dict(disc_init_steps=2)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
        optims = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim_cfg()))(model)

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    for it in range(3):
        g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
        logs = model.train_step(batch(seed=it), optims)
        g_moved = any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
        d_moved = any(not torch.equal(a, b)
                      for a, b in zip(d_before, model.discriminator.parameters()))
        assert d_moved, it
        assert g_moved == (it == 2) and ('loss_g' in logs) == (it == 2), it


def test_generator_loss_is_the_sum_of_the_loss_modules():
    torch.manual_seed(1)
    model, _ = build()
    data = model.data_preprocessor(batch(seed=3), True)
    rainy, clean = data['inputs'], data['data_samples'].gt_img
    bg, rain, idt = model.decompose(rainy, clean)
    obj = model.objective
    rng = torch.Generator().manual_seed(7)
    losses = obj.generator_losses(model.generator, model.discriminator, rainy, bg, rain, clean,
                                  idt, generator_rng=rng)
    total, _ = model.parse_losses(losses)
    # each term from its own module, same forward, same sampling
    rng = torch.Generator().manual_seed(7)
    gan = obj.gan_loss(model.discriminator(bg), True, is_disc=False)
    loc = 0.5 * (obj.location_loss(model.generator, rainy, bg, rng) +
                 obj.location_loss(model.generator, clean, idt, rng))
    layer = obj.layer_loss_value(model.discriminator, bg, rain, rng)
    cons = ((bg + rain - rainy)**2).mean()
    spar = 0.1 * (rainy - bg).abs().mean()
    expected = dict(loss_gan=gan, loss_loc=loc, loss_layer=layer, loss_consistency=cons,
                    loss_sparsity=spar)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-6, atol=1e-7, msg=key)
    torch.testing.assert_close(total, sum(expected.values()), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('loc_identity', [True, False])
def test_recorded_source_taps_give_the_same_losses_and_gradients(loc_identity):
    """The training step reuses G_B's taps of O (and B_u) from the decomposition's forward;
    the losses and every gradient equal those with the taps computed separately."""
    torch.manual_seed(4)
    model, _ = build(loc_identity=loc_identity)
    data = model.data_preprocessor(batch(seed=5), True)
    rainy, clean = data['inputs'], data['data_samples'].gt_img
    obj = model.objective
    params = [p for p in model.parameters() if p.requires_grad]
    results = []
    for reuse in (False, True):
        model.zero_grad()
        parts = model.decompose(rainy, clean, with_features=reuse)
        assert len(parts) == (4 if reuse else 3)
        if reuse:
            assert [len(f) for f in parts[3]] == [len(obj.loc_layers)] * (2 if loc_identity else 1)
        bg, rain, identity = parts[:3]
        losses = obj.generator_losses(model.generator, model.discriminator, rainy, bg, rain,
                                      clean, identity,
                                      generator_rng=torch.Generator().manual_seed(9),
                                      source_features=parts[3] if reuse else None)
        sum(losses.values()).backward()
        results.append(({k: v.detach() for k, v in losses.items()},
                        [None if p.grad is None else p.grad.clone() for p in params]))
    (loss_a, grad_a), (loss_b, grad_b) = results
    for key in loss_a:
        torch.testing.assert_close(loss_b[key], loss_a[key], rtol=1e-5, atol=1e-6, msg=key)
    for p, ga, gb in zip(params, grad_a, grad_b):
        assert (ga is None) == (gb is None)
        if ga is not None:
            torch.testing.assert_close(gb, ga, rtol=1e-3, atol=1e-5)
    # the hooks are gone afterwards
    assert all(not layer._forward_hooks for layer in model.generator.layers)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_train_step_with_amp_optim_wrapper_on_cpu():
    """mmengine's AmpOptimWrapper (bf16 autocast on CPU) runs NLCL's train_step."""
    import warnings
    adam = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
    amp = dict(type='AmpOptimWrapper', loss_scale='dynamic', dtype='bfloat16', optimizer=adam)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmagic'), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler: "CUDA is not available. Disabling"
        model = MODELS.build(tiny_model_cfg())
        optims = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='MultiOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                generator=dict(amp, modules=['generator', 'rain_generator', 'objective']),
                discriminator=dict(amp, modules=['discriminator']))))(model)
    assert type(optims['generator']).__name__ == 'AmpOptimWrapper'
    before = snapshot(model)
    logs = model.train_step(batch(seed=1), optims)
    for key in ('loss_d', 'loss_g', 'loss_loc', 'loss_layer', 'loss_gan'):
        assert torch.isfinite(torch.as_tensor(logs[key]).float()), key
    moved = changed(before, model)
    for prefix in ('generator.', 'rain_generator.', 'discriminator.', 'objective.rain_sampler'):
        assert any(n.startswith(prefix) for n in moved), prefix
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights


def test_legacy_reproduces_head_defects():
    torch.manual_seed(2)
    model, optims = build(legacy=True, legacy_freeze_loc_heads=True, legacy_adv_head_bug=True,
                          legacy_disc_taps=True)
    obj = model.objective
    # D3: [input, L0, L3, L7] -> head input channels 3, 8, 16, 32
    assert obj.bg_sampler.heads.in_channels == (3, 8, 16, 32)
    before = {n: snapshot(getattr(obj, n)) for n in ('loc_sampler', 'bg_sampler', 'rain_sampler')}
    model.train_step(batch(), optims)
    assert not changed(before['loc_sampler'], obj.loc_sampler)  # D1
    assert not changed(before['bg_sampler'], obj.bg_sampler)  # D2: never trained
    assert changed(before['rain_sampler'], obj.rain_sampler)
    # D2: the rain heads move by two Adam steps: first Adam step moves each weight by ~lr
    w0 = before['rain_sampler']['heads.mlps.0.0.weight']
    w1 = obj.rain_sampler.state_dict()['heads.mlps.0.0.weight']
    step = (w1 - w0).abs()
    assert torch.allclose(step[step > 0].median(), torch.tensor(4e-4), rtol=0.1)


def test_default_heads_take_a_single_step():
    torch.manual_seed(2)
    model, optims = build()
    w0 = model.objective.rain_sampler.state_dict()['heads.mlps.0.0.weight'].clone()
    model.train_step(batch(), optims)
    step = (model.objective.rain_sampler.state_dict()['heads.mlps.0.0.weight'] - w0).abs()
    assert torch.allclose(step[step > 0].median(), torch.tensor(2e-4), rtol=0.1)
    assert model.objective.bg_sampler.heads.in_channels == (8, 16, 32, 64)


def test_predict_returns_background_and_rain():
    torch.manual_seed(0)
    model, _ = build()
    data = batch(n=1, size=24)
    with torch.no_grad():
        out = model.val_step(data)
    assert len(out) == 1
    pred = out[0].output
    assert pred.pred_img.shape == (3, 24, 24) and pred.pred_rain.shape == (3, 24, 24)
    assert 0 <= float(pred.pred_img.min()) and float(pred.pred_img.max()) <= 255
    x = (torch.stack(data['inputs']) / 127.5 - 1)
    with torch.no_grad():
        ref = (model.generator(x).clamp(-1, 1) + 1) * 127.5
    torch.testing.assert_close(pred.pred_img, ref[0], rtol=0, atol=1e-3)


def test_state_dict_roundtrip_keeps_every_head():
    model, _ = build()
    clone = copy.deepcopy(model)
    sd = model.state_dict()
    assert any(k.startswith('objective.loc_sampler.heads') for k in sd)
    clone.load_state_dict(sd, strict=True)


class _Wrapper(torch.nn.Module):
    """Stands in for a DDP wrapper: holds the network as ``.module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def test_state_dict_keys_are_plain_under_per_network_wrappers():
    """Wrapped networks save plain keys; files with wrapped keys still load."""
    model, _ = build()
    plain = {k: v.clone() for k, v in model.state_dict().items()}
    wrapped = copy.deepcopy(model)
    for name in ('generator', 'rain_generator', 'discriminator', 'objective'):
        setattr(wrapped, name, _Wrapper(getattr(wrapped, name)))
    sd = wrapped.state_dict()
    assert list(sd) == list(plain)
    # a file in the wrapped layout loads into a plain model, every tensor in place
    shifted = {k: v + 1 if v.is_floating_point() else v for k, v in plain.items()}
    legacy = {(k.replace('generator.', 'generator.module.', 1) if k.startswith('generator.')
               else k): v for k, v in shifted.items()}
    fresh = copy.deepcopy(model)
    fresh.load_state_dict(legacy, strict=True)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, shifted[k]), k


@pytest.mark.parametrize('loc_identity', [True, False])
def test_identity_loss_term(loc_identity):
    """With identity_loss, the generator step adds weight * mean|G_B(B_u) - B_u| (G_B(B_u)
    computed even without the location loss's identity term) and its gradient reaches
    G_B; the other terms are unchanged."""
    torch.manual_seed(1)
    model, optims = build(identity_loss=dict(type='IdentityLoss', loss_weight=3.0),
                          loc_identity=loc_identity)
    plain, _ = build(loc_identity=loc_identity)
    plain.load_state_dict(model.state_dict())
    data = model.data_preprocessor(batch(seed=3), True)
    rainy, clean = data['inputs'], data['data_samples'].gt_img
    losses, terms = [], []
    for m in (model, plain):
        bg, rain, idt = m.decompose(rainy, clean)
        assert idt is not None or m is plain
        losses.append(m.objective.generator_losses(
            m.generator, m.discriminator, rainy, bg, rain, clean, idt,
            generator_rng=torch.Generator().manual_seed(7)))
        terms.append(idt)
    with torch.no_grad():
        expected = 3.0 * (model.generator(clean) - clean).abs().mean()
    torch.testing.assert_close(losses[0]['loss_identity'], expected)
    assert 'loss_identity' not in losses[1]
    for key, value in losses[1].items():
        torch.testing.assert_close(losses[0][key], value, msg=key)
    model.generator.zero_grad()
    losses[0]['loss_identity'].backward()
    assert model.generator.layers[-1].weight.grad.abs().sum() > 0
    logs = model.train_step(batch(), optims)
    assert 'loss_identity' in logs


def step_losses_with_and_without(model, plain, seed):
    """The generator-step terms of ``model`` and of ``plain`` (the same weights without
    the option under test) on one batch with the same draws: (losses of each, O, B_u)."""
    data = model.data_preprocessor(batch(seed=seed), True)
    rainy, clean = data['inputs'], data['data_samples'].gt_img
    losses = []
    for m in (model, plain):
        bg, rain, idt = m.decompose(rainy, clean)
        losses.append(m.objective.generator_losses(
            m.generator, m.discriminator, rainy, bg, rain, clean, idt,
            generator_rng=torch.Generator().manual_seed(7)))
    return losses, rainy, clean


def test_transplant_loss_term():
    """With transplant_loss, the generator step adds weight * mean|G_B(B_u + sg(O - B)) - B_u|
    (by hand below), its gradient reaches G_B but not B through the transplanted layer, and
    the other terms are unchanged."""
    torch.manual_seed(1)
    model, optims = build(transplant_loss=dict(type='RainTransplantLoss', loss_weight=2.5))
    plain, _ = build()
    plain.load_state_dict(model.state_dict())
    losses, rainy, clean = step_losses_with_and_without(model, plain, seed=4)
    with torch.no_grad():
        bg = model.generator(rainy)
        laid = torch.clamp(clean + rainy - bg, -1, 1)
        expected = 2.5 * (model.generator(laid) - clean).abs().mean()
    torch.testing.assert_close(losses[0]['loss_transplant'], expected)
    assert 'loss_transplant' not in losses[1]
    for key, value in losses[1].items():
        torch.testing.assert_close(losses[0][key], value, msg=key)
    # B enters only through the detached layer O - B: no gradient flows back into it
    leaf_bg = bg.clone().requires_grad_(True)
    term = model.objective.transplant_loss(
        model.generator(transplant(clean, rainy, leaf_bg)), clean)
    term.backward()
    assert leaf_bg.grad is None
    assert model.generator.layers[-1].weight.grad.abs().sum() > 0
    logs = model.train_step(batch(), optims)
    assert 'loss_transplant' in logs


def test_idempotence_loss_term():
    """With idempotence_loss, the generator step adds weight * mean|G_B(B) - B| (by hand
    below), its gradient reaches G_B's weights through the second pass only (not B), and
    the other terms are unchanged."""
    torch.manual_seed(1)
    gen = dict(type='DecompositionGenerator', mid_channels=8, residual=True,
               removes_light=True, thin_light_size=5, thin_light_init=0.3,
               zero_init_output=True)
    model, optims = build(idempotence_loss=dict(type='IdempotenceLoss', loss_weight=4.0),
                          generator=gen)
    plain, _ = build(generator=gen)
    plain.load_state_dict(model.state_dict())
    losses, rainy, clean = step_losses_with_and_without(model, plain, seed=5)
    with torch.no_grad():
        once = model.generator(rainy)
        expected = 4.0 * (model.generator(once) - once).abs().mean()
    # the mask starts at 0.3 of the thin light, so the second pass still takes some
    assert expected > 0
    torch.testing.assert_close(losses[0]['loss_idempotence'], expected)
    assert 'loss_idempotence' not in losses[1]
    for key, value in losses[1].items():
        torch.testing.assert_close(losses[0][key], value, msg=key)
    leaf_bg = once.clone().requires_grad_(True)
    model.generator.zero_grad()
    model.objective.idempotence_loss(model.generator(leaf_bg), leaf_bg).backward()
    assert leaf_bg.grad.abs().sum() > 0  # only through G_B's input, not as the target
    leaf_bg.grad = None
    model.generator.zero_grad()
    model.objective.idempotence_loss(model.generator(leaf_bg.detach()), leaf_bg).backward()
    assert leaf_bg.grad is None
    assert model.generator.layers[-1].weight.grad.abs().sum() > 0
    logs = model.train_step(batch(), optims)
    assert 'loss_idempotence' in logs


def test_streak_floor_loss_term():
    """With streak_floor_loss, the generator step adds weight * relu(r mean T(O) - mean
    S(B)) with r the clean crops' share so far (by hand below, from the package's
    morphology), the other terms are unchanged, and its gradient reaches G_B's mask."""
    from nlcl_plugin.models.losses import streak_share
    from nlcl_plugin.models.streak_light import STREAK_ANGLES, dominant_angle, line_opening
    from nlcl_plugin.models.thin_light import white_top_hat
    torch.manual_seed(1)
    gen = dict(type='DecompositionGenerator', mid_channels=8, residual=True,
               removes_light=True, thin_light_size=7, streak_length=21, thin_light_init=0.5,
               zero_init_output=True)
    model, optims = build(streak_floor_loss=dict(type='StreakFloorLoss', loss_weight=40.0),
                          generator=gen)
    plain, _ = build(generator=gen)
    plain.load_state_dict(model.state_dict(), strict=False)
    losses, rainy, clean = step_losses_with_and_without(model, plain, seed=6)
    r = float(streak_share(clean, 7, 21).mean())
    assert float(model.objective.streak_floor_loss.clean_share) == pytest.approx(r)
    with torch.no_grad():
        bg = model.generator(rainy)
        expected = 0.0
        for o, b in zip(rainy, bg):
            thin_o = white_top_hat(o[None].mean(1, keepdim=True), 7)
            angle = STREAK_ANGLES[int(dominant_angle(thin_o, 21))]
            kept = line_opening(white_top_hat(b[None].mean(1, keepdim=True), 7), 21, angle)
            expected += 40.0 * max(r * float(thin_o.mean()) - float(kept.mean()), 0.0)
    assert expected > 0  # the noise crops' share is below the clean ones'
    assert float(losses[0]['loss_streak_floor'].detach()) == pytest.approx(expected / len(rainy))
    assert 'loss_streak_floor' not in losses[1]
    for key, value in losses[1].items():
        torch.testing.assert_close(losses[0][key], value, msg=key)
    model.generator.zero_grad()
    losses[0]['loss_streak_floor'].backward()
    assert model.generator.layers[-1].weight.grad[-1].abs().sum() > 0  # the mask's channel
    logs = model.train_step(batch(), optims)
    assert 'loss_streak_floor' in logs


def test_exclusion_loss_term():
    """With exclusion_loss, the generator step adds weight * mean relu(c) with c the
    correlation of the grey detail layers of O - B and B (by hand below, with scipy's
    Gaussian filter), the other terms are unchanged, and its gradient reaches G_B."""
    from scipy.ndimage import gaussian_filter
    torch.manual_seed(1)
    gen = dict(type='DecompositionGenerator', mid_channels=8, residual=True,
               removes_light=True, thin_light_size=5, thin_light_init=0.3,
               zero_init_output=True)
    model, optims = build(exclusion_loss=dict(type='LayerExclusionLoss', loss_weight=7.0,
                                              floor=0.0), generator=gen)
    plain, _ = build(generator=gen)
    plain.load_state_dict(model.state_dict())
    losses, rainy, clean = step_losses_with_and_without(model, plain, seed=7)

    def detail(x):  # reflect-101 padding as torch's 'reflect', radius ceil(3 sigma)
        g = x.mean(0).double().numpy()
        return g - gaussian_filter(g, 3.0, mode='mirror', truncate=3.0)

    with torch.no_grad():
        bg = model.generator(rainy)
    cs = []
    for o, b in zip(rainy, bg):
        dr, db = detail(o - b), detail(b)
        cs.append((dr * db).sum() / np.sqrt((dr ** 2).sum() * (db ** 2).sum()))
    expected = 7.0 * np.mean(np.maximum(cs, 0.0))
    assert expected > 0  # the thin light taken from noise is left in part
    assert float(losses[0]['loss_exclusion'].detach()) == pytest.approx(expected, rel=1e-4)
    assert 'loss_exclusion' not in losses[1]
    for key, value in losses[1].items():
        torch.testing.assert_close(losses[0][key], value, msg=key)
    model.generator.zero_grad()
    losses[0]['loss_exclusion'].backward()
    assert model.generator.layers[-1].weight.grad.abs().sum() > 0
    logs = model.train_step(batch(), optims)
    assert 'loss_exclusion' in logs


def test_gan_stop_quantile_pushes_only_patches_below_the_clean_level():
    """With objective.gan_stop_quantile, the generator's adversarial term is, by hand,
    weight * mean(min(D(B) - t, 0)^2) with t the quantile of D's scores on B_u; the other
    terms are unchanged; a non-LSGAN loss is refused."""
    torch.manual_seed(1)
    model, optims = build(gan_stop_quantile=0.5)
    plain, _ = build()
    plain.load_state_dict(model.state_dict())
    losses, rainy, clean = step_losses_with_and_without(model, plain, seed=6)
    with torch.no_grad():
        view = model.objective.disc_view
        fake = model.discriminator(view(model.generator(rainy)))
        level = torch.quantile(model.discriminator(view(clean)).flatten(), 0.5)
        expected = (torch.clamp(fake - level, max=0) ** 2).mean()
    assert 0 < float(expected) < float(losses[1]['loss_gan'])
    torch.testing.assert_close(losses[0]['loss_gan'], expected)
    for key, value in losses[1].items():
        if key != 'loss_gan':
            torch.testing.assert_close(losses[0][key], value, msg=key)
    logs = model.train_step(batch(), optims)
    assert torch.isfinite(torch.as_tensor(logs['loss_gan']))
    cfg = tiny_model_cfg(gan_stop_quantile=0.5)
    cfg['gan_loss'] = dict(type='GANLoss', gan_type='vanilla', loss_weight=1.0)
    with DefaultScope.overwrite_default_scope('mmagic'):
        with pytest.raises(ValueError, match='needs an LSGAN loss'):
            MODELS.build(cfg)


def test_transplant_loss_starts_as_the_identity_loss():
    """While B = O (residual G_B with a zero output layer: the recommended start) nothing is
    transplanted, and the term equals the identity loss of the same weight."""
    torch.manual_seed(2)
    cfg = dict(type='DecompositionGenerator', mid_channels=8, residual=True,
               zero_init_output=True)
    with DefaultScope.overwrite_default_scope('mmagic'):
        gen = MODELS.build(cfg)
        tp = MODELS.build(dict(type='RainTransplantLoss', loss_weight=3.0))
        idt = MODELS.build(dict(type='IdentityLoss', loss_weight=3.0))
    rainy = torch.rand(2, 3, 24, 24) * 2 - 1
    clean = torch.rand(2, 3, 24, 24) * 2 - 1
    bg = gen(rainy)
    assert torch.equal(bg, rainy)
    torch.testing.assert_close(tp(gen(transplant(clean, rainy, bg)), clean),
                               idt(gen(clean), clean))


@pytest.mark.parametrize('gain', [0.02, 1.0])
def test_runner_initialisation_keeps_the_configured_discriminator_gain(gain):
    """mmengine's Runner calls ``model.init_weights()`` before training, which calls
    ``init_weights()`` on every child: D must come out with its configured gain (the
    xavier-normal std, gain * sqrt(2 / (fan_in + fan_out)), zero biases), and the
    zero-initialised G_B must still be the identity."""
    cfg = tiny_model_cfg()
    cfg['discriminator'].update(norm='none', init_gain=gain)
    cfg['generator'].update(residual=True, zero_init_output=True)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
    model.init_weights()
    convs = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    for conv in convs[:4]:  # the last conv has 1 output channel: too few weights
        out_c, in_c, kh, kw = conv.weight.shape
        expected = gain * (2.0 / (in_c * kh * kw + out_c * kh * kw)) ** 0.5
        assert abs(float(conv.weight.std()) / expected - 1) < 0.15, (conv, gain)
        assert not conv.bias.any()
    x = torch.rand(1, 3, 24, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model.generator(x), x)
