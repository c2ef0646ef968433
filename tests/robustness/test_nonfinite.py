"""A NaN / inf loss is caught at the iteration it occurs: the update is skipped, or
training stops with the last good checkpoint kept."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope

import nlcl_plugin.mmagic  # noqa: F401
from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from mmagic.structures import DataSample
from nlcl_plugin.mmagic.hooks import NonFiniteLossHook

from rb_helpers import make_unpaired, run_tool, train_config, write_hooks

TINY = dict(
    type='NLCL',
    generator=dict(type='DecompositionGenerator', mid_channels=8),
    rain_generator=dict(type='DecompositionGenerator', mid_channels=8),
    discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
    gan_loss=dict(type='GANLoss', gan_type='lsgan', loss_weight=1.0),
    objective=dict(num_loc_patches=16, num_bg_patches=4, num_rain_patches=8, patch_size=8,
                   search_size=12, gen_channels=8, embed_channels=16),
    data_preprocessor=dict(type='DataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3))


def build():
    adam = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(copy.deepcopy(TINY))
        ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='MultiOptimWrapperConstructor', optim_wrapper_cfg=dict(
                generator=dict(type='OptimWrapper', optimizer=adam,
                               modules=['generator', 'rain_generator', 'objective']),
                discriminator=dict(type='OptimWrapper', optimizer=adam,
                                   modules=['discriminator']))))
        return model, ctor(model)


def batch(size=32):
    g = torch.Generator().manual_seed(0)
    sample = DataSample()
    sample.gt_img = torch.randint(0, 256, (3, size, size), generator=g).float()
    return dict(inputs=[torch.randint(0, 256, (3, size, size), generator=g).float()],
                data_samples=[sample])


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return {k for k, v in module.state_dict().items() if not torch.equal(v, before[k])}


def test_guard_skips_exactly_the_non_finite_update(monkeypatch):
    torch.manual_seed(0)
    model, optims = build()
    model.skip_nonfinite_updates = True
    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    original = model.objective.generator_losses

    def nan_loc(*args, **kwargs):
        losses = original(*args, **kwargs)
        losses['loss_loc'] = losses['loss_loc'] * float('nan')
        return losses

    monkeypatch.setattr(model.objective, 'generator_losses', nan_loc)
    logs = model.train_step(batch(), optims)
    assert model.nonfinite_skipped == ['generator']
    assert torch.isnan(torch.as_tensor(logs['loss_loc']))
    assert not changed(g0, model.generator)  # G: not applied
    assert changed(d0, model.discriminator)  # D's loss was finite: applied
    assert not optims['generator'].optimizer.state  # no Adam step taken either


def test_nan_input_skips_both_updates_and_unguarded_training_is_poisoned(monkeypatch):
    for guard in (True, False):
        torch.manual_seed(0)
        model, optims = build()
        model.skip_nonfinite_updates = guard
        before = snapshot(model)
        bad = batch()
        bad['inputs'][0][:, :4, :4] = float('nan')
        logs = model.train_step(bad, optims)
        assert torch.isnan(torch.as_tensor(logs['loss_d']))
        params = {k for k, _ in model.named_parameters()}
        if guard:
            assert model.nonfinite_skipped == ['discriminator', 'generator']
            assert not (changed(before, model) & params)
            # and training goes on normally afterwards
            model.train_step(batch(), optims)
            assert model.nonfinite_skipped == []
            assert all(torch.isfinite(p).all() for p in model.parameters())
        else:
            assert not all(torch.isfinite(p).all() for p in model.parameters())


def test_hook_arguments():
    with pytest.raises(ValueError, match='mode'):
        NonFiniteLossHook(mode='ignore')
    with pytest.raises(ValueError, match='max_consecutive'):
        NonFiniteLossHook(max_consecutive=0)


@pytest.mark.parametrize('mode', ['skip', 'stop'])
def test_training_with_a_nan_batch(tmp_path, mode):
    write_hooks(tmp_path)
    data = make_unpaired(tmp_path / 'data')
    cfg = train_config(tmp_path, data, imports=['rb_hooks'], extra=f'''
custom_hooks = [{{{{_base_.ema_hook}}}}, dict(type='InjectNaNHook', at_iter=1)]
''')
    work = tmp_path / 'w'
    res = run_tool(tmp_path, 'train.py', cfg, '--work-dir', work, '--cfg-options',
                   f'default_hooks.nonfinite_loss.mode={mode}',
                   'default_hooks.checkpoint.max_keep_ckpts=5')
    out = res.stdout + res.stderr
    assert 'non-finite loss at iteration 2 (loss_d=nan' in out, out[-3000:]
    for term in ('loss_d_real=', 'loss_g=', 'loss_loc=', 'loss_layer=', 'batch: '):
        assert term in out, term
    one = torch.load(work / 'iter_1.pth', weights_only=False)['state_dict']
    if mode == 'skip':
        assert res.returncode == 0, out[-3000:]
        assert 'skipped the discriminator and generator update(s) (1 non-finite' in out
        two = torch.load(work / 'iter_2.pth', weights_only=False)['state_dict']
        three = torch.load(work / 'iter_3.pth', weights_only=False)['state_dict']
        for k, v in one.items():  # iteration 2 changed no weight, iteration 3 trained on
            if '_ema.' in k and v.is_floating_point():  # the averages keep moving towards
                raw = one[k.replace('_ema.', '.')]    # the unchanged weights
                torch.testing.assert_close(two[k], v + 0.01 * (raw - v), rtol=0, atol=1e-7)
            elif '_ema.' in k:  # integer buffers (the generator form's markers) are copied
                assert torch.equal(two[k], one[k.replace('_ema.', '.')]), k
            elif k != 'step_counter':
                assert torch.equal(two[k], v), k
            assert torch.isfinite(three[k].float()).all(), k
        assert any(not torch.equal(three[k], one[k]) for k in one)
    else:
        assert res.returncode == 1, out[-3000:]
        error = [x for x in res.stderr.splitlines() if x.startswith('error:')]
        assert len(error) == 1 and "training stopped (mode='stop'" in error[0]
        assert error[0].endswith(f'last checkpoint: {work / "iter_1.pth"}')
        assert not (work / 'iter_2.pth').exists()
        assert (work / 'last_checkpoint').read_text() == str(work / 'iter_1.pth')
        assert all(torch.isfinite(v.float()).all() for v in one.values())
