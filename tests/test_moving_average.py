"""Moving averages of the generators' weights (``is_use_ema`` / BasicSR ``ema_decay``).

References: the update is checked against ``ema + m * (w - ema)`` computed by hand from
the weights before and after, and every reader (prediction, checkpoint loaders, the
export tool, BasicSR's test and save) against the network it must have used.
"""
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import DefaultScope

import nlcl_plugin.basicsr  # noqa: F401
import nlcl_plugin.mmagic  # noqa: F401
from mmagic.engine.hooks import ExponentialMovingAverageHook
from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
from nlcl_plugin.mmagic.runner_utils import ConfigError, load_config, validate_config
from nlcl_plugin.models.checkpoint import CheckpointError, build_generator, load_generator_state

from test_mmagic_nlcl import batch, optim_cfg, tiny_model_cfg

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs', 'nlcl_demo.py')
EMA_KEYS = ('generator_ema', 'rain_generator_ema')


def build_ema_model():
    cfg = tiny_model_cfg()
    cfg['is_use_ema'] = True
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg)
        optims = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim_cfg()))(model)
    return model, optims


def params(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_averages_start_as_copies_and_are_never_trained():
    torch.manual_seed(0)
    model, optims = build_ema_model()
    for key in EMA_KEYS:
        ema, net = getattr(model, key), getattr(model, key[:-4])
        assert ema is not net
        for (n, a), b in zip(ema.named_parameters(), net.parameters()):
            assert torch.equal(a, b), n
    before = params(model.generator_ema)
    model.train_step(batch(), optims)
    assert all(torch.equal(before[n], p) and p.grad is None
               for n, p in model.generator_ema.named_parameters())
    assert any(not torch.equal(before[n], p) for n, p in model.generator.named_parameters())
    # the optimisers hold no averaged parameter
    ema_ids = {id(p) for key in EMA_KEYS for p in getattr(model, key).parameters()}
    for wrapper in optims.values():
        for group in wrapper.optimizer.param_groups:
            assert not ema_ids & {id(p) for p in group['params']}


def test_mmagic_hook_moves_the_averages_and_prediction_uses_them():
    torch.manual_seed(0)
    model, optims = build_ema_model()
    model.train_step(batch(), optims)
    old = {key: params(getattr(model, key)) for key in EMA_KEYS}
    hook = ExponentialMovingAverageHook(module_keys=EMA_KEYS, interval=1,
                                        interp_cfg=dict(momentum=0.25))
    hook.after_train_iter(SimpleNamespace(model=model, iter=5), 0)
    for key in EMA_KEYS:
        raw = params(getattr(model, key[:-4]))
        for name, value in getattr(model, key).named_parameters():
            expected = old[key][name] + 0.25 * (raw[name] - old[key][name])
            torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)
    model.eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = model.forward_tensor(x)
        torch.testing.assert_close(out, model.generator_ema(x).clamp(-1, 1))
        assert not torch.allclose(out, model.generator(x).clamp(-1, 1))
        pred = model.forward_inference(x * 127.5 + 127.5)
    assert pred.pred_img.shape == (1, 3, 32, 32) and pred.pred_rain.shape == (1, 3, 32, 32)


def test_without_the_option_there_are_no_averages():
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(tiny_model_cfg())
    assert not any(hasattr(model, key) for key in EMA_KEYS)
    assert model.inference_generators() == (model.generator, model.rain_generator)


@pytest.mark.parametrize('options, expected', [
    ({'custom_hooks': [dict(type='BasicVisualizationHook', interval=1)]},
     'model.is_use_ema=True needs custom_hooks to hold'),
    ({'custom_hooks': [dict(type='ExponentialMovingAverageHook', module_keys='generator_ema')]},
     "found module_keys ['generator_ema']"),
    ({'model.is_use_ema': False},
     "custom_hooks.0 averages ['generator_ema', 'rain_generator_ema'] but model.is_use_ema "
     'is False'),
])
def test_option_and_hook_must_go_together(options, expected):
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(DEMO, options))
    assert expected in str(err.value)


@pytest.fixture(scope='module')
def training_checkpoint(tmp_path_factory):
    """A training checkpoint whose averages differ from the raw generators."""
    torch.manual_seed(0)
    model, optims = build_ema_model()
    model.train_step(batch(), optims)
    hook = ExponentialMovingAverageHook(module_keys=EMA_KEYS, interval=1,
                                        interp_cfg=dict(momentum=0.5))
    hook.after_train_iter(SimpleNamespace(model=model, iter=1), 0)
    path = str(tmp_path_factory.mktemp('ema') / 'iter_1.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1, seed=3, cfg='x')), path)
    return path, model


@pytest.mark.parametrize('role, net', [('background', 'generator'), ('rain', 'rain_generator')])
def test_loaders_prefer_the_averages_and_give_raw_weights_on_request(training_checkpoint,
                                                                     role, net):
    path, model = training_checkpoint
    for ema, source in ((None, net + '_ema'), (True, net + '_ema'), (False, net)):
        sd = load_generator_state(path, role, ema=ema)
        expected = getattr(model, source).state_dict()
        assert sd.keys() == expected.keys()
        assert all(torch.equal(sd[k], expected[k]) for k in sd), (ema, source)
    built = build_generator(path, role)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(built.eval()(x), getattr(model, net + '_ema').eval()(x))


def test_asking_for_averages_that_are_not_there_names_the_file(tmp_path):
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(tiny_model_cfg())
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    with pytest.raises(CheckpointError, match='plain.pth holds no background generator'):
        load_generator_state(path, 'background', ema=True)
    assert load_generator_state(path, 'background').keys() == model.generator.state_dict().keys()


@pytest.mark.parametrize('raw', [False, True])
def test_export_writes_the_averages_unless_raw(training_checkpoint, tmp_path, raw):
    path, model = training_checkpoint
    out = str(tmp_path / 'model.pth')
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'export_generators.py'),
                          path, out] + (['--raw'] if raw else []),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert ('raw weights' if raw else 'moving average weights') in res.stdout
    saved = torch.load(out, weights_only=True)
    assert saved['meta']['weights'] == ('raw' if raw else 'moving average')
    assert {k.split('.')[0] for k in saved['state_dict']} == {'generator', 'rain_generator'}
    for net in ('generator', 'rain_generator'):
        source = getattr(model, net if raw else net + '_ema').state_dict()
        for k, v in source.items():
            assert torch.equal(saved['state_dict'][f'{net}.{k}'], v), (net, k)


# --------------------------------------------------------------------------- BasicSR
def test_basicsr_ema_decay_updates_tests_and_saves_the_averages(tmp_path):
    from basicsr.models import build_model
    from test_basicsr_adapter import dyadic_batch, tiny_opt
    opt = tiny_opt()
    opt['train']['ema_decay'] = 0.75
    opt['path'] = dict(models=str(tmp_path), training_states=str(tmp_path))
    torch.manual_seed(0)
    model = build_model(opt)
    for label in ('g', 'r'):
        ema = getattr(model, f'net_{label}_ema')
        assert all(torch.equal(a, b) for a, b in
                   zip(ema.parameters(), getattr(model, f'net_{label}').parameters()))
    rainy, clean = dyadic_batch(n=1)
    model.feed_data({'lq': (rainy + 1) / 2, 'gt': (clean + 1) / 2})
    old = {label: params(getattr(model, f'net_{label}_ema')) for label in ('g', 'r')}
    model.optimize_parameters(1)
    for label in ('g', 'r'):
        raw = params(getattr(model, f'net_{label}'))
        for name, value in getattr(model, f'net_{label}_ema').named_parameters():
            expected = 0.75 * old[label][name] + 0.25 * raw[name]
            torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)
    model.test()
    with torch.no_grad():
        expected = ((model.net_g_ema(rainy).clamp(-1, 1) + 1) / 2)
    torch.testing.assert_close(model.output, expected)
    model.save(0, 1)
    saved = torch.load(str(tmp_path / 'net_g_1.pth'), weights_only=True)
    assert set(saved) == {'params', 'params_ema'}
    for key, net in (('params', model.net_g), ('params_ema', model.net_g_ema)):
        assert all(torch.equal(saved[key][k], v) for k, v in net.state_dict().items())
    # the plugin's loaders read BasicSR's files the same way
    for ema, net in ((None, model.net_g_ema), (False, model.net_g)):
        sd = load_generator_state(str(tmp_path / 'net_g_1.pth'), 'background', ema=ema)
        assert all(torch.equal(sd[k], v) for k, v in net.state_dict().items())


def test_basicsr_ema_decay_is_checked():
    from basicsr.models import build_model
    from test_basicsr_adapter import tiny_opt
    opt = tiny_opt()
    opt['train']['ema_decay'] = 1.0
    with pytest.raises(ValueError, match=r'train.ema_decay must be in \[0, 1\), got 1.0'):
        build_model(opt)


@pytest.mark.parametrize('raw', [False, True])
def test_derain_tool_uses_the_averages_unless_raw(training_checkpoint, tmp_path, raw):
    import cv2
    import numpy as np
    path, model = training_checkpoint
    rgb = np.random.default_rng(0).integers(0, 256, (24, 28, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'in.png'), rgb[..., ::-1])
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'derain.py'),
                          str(tmp_path / 'in.png'), '--checkpoint', path, '--out-dir',
                          str(tmp_path / 'out'), '--no-progress']
                         + (['--raw-weights'] if raw else []), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = cv2.imread(str(tmp_path / 'out' / 'in.png'))[..., ::-1]
    net = (model.generator if raw else model.generator_ema).eval()
    with torch.no_grad():
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
        ref = ((net(x).clamp(-1, 1) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(out.astype(np.float64) - ref).max() <= 1
    other = (model.generator_ema if raw else model.generator).eval()
    with torch.no_grad():
        alt = ((other(x).clamp(-1, 1) + 1) * 127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(alt - ref).max() > 1  # the two weight sets give distinguishable outputs


def test_checkpoints_without_averages_load_into_them(training_checkpoint, tmp_path):
    """An exported release file (generator.* only, which are the averages) and a
    checkpoint written without averages evaluate their own weights in an averaging model."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from export_generators import export
    path, trained = training_checkpoint
    release = str(tmp_path / 'release.pth')
    export(path, release)
    model, _ = build_ema_model()
    model.load_state_dict(torch.load(release, weights_only=True)['state_dict'], strict=False)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    model.eval()
    trained.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.forward_tensor(x), trained.forward_tensor(x))
    # a full checkpoint with averages keeps them apart from the weights
    fresh, _ = build_ema_model()
    fresh.load_state_dict(torch.load(path, weights_only=False)['state_dict'])
    for key in EMA_KEYS:
        for (n, a), b in zip(getattr(fresh, key).named_parameters(),
                             getattr(trained, key).parameters()):
            assert torch.equal(a, b), n
