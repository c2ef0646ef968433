"""Every config loads and builds; tools/train.py and tools/test.py run end to end on CPU."""
import glob
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import nlcl_plugin.mmagic  # noqa: F401
from mmagic.registry import MODELS
from nlcl_plugin.checkpoint_safety import allowed_globals, load_checkpoint_file

from test_checkpoint_safety import weights_only_needs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')) +
                 glob.glob(osp.join(REPO, 'configs', 'demo', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, osp.join(REPO, 'configs'))
                                               for p in CONFIGS])
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmagic'
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(cfg.model)
    # the authors' G_B (316195 weights), plus one output channel of the last 3x3 conv
    # (32 inputs) for the thin-light mask where the config has one
    mask = 32 * 3 * 3 + 1 if cfg.model.generator.get('thin_light_size', 0) else 0
    assert sum(p.numel() for p in model.generator.parameters()) == 316195 + mask
    if cfg.model.type == 'NLCL':
        assert sum(p.numel() for p in model.discriminator.parameters()) == 2764737
    else:  # the supervised reference: G_B alone
        assert osp.basename(path).startswith('supervised_demo') \
            and cfg.model.type == 'BaseEditModel'
    assert cfg.train_cfg.max_iters > 0


def test_train_resume_and_test_tools(tmp_path):
    work = tmp_path / 'w'
    base = [sys.executable, osp.join(REPO, 'tools', 'train.py'), osp.join(REPO, 'configs', 'nlcl_demo.py'),
            '--work-dir', str(work), '--cfg-options', 'train_cfg.max_iters=2',
            'model.train_cfg.disc_init_steps=0',
            'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.data_root={tmp_path}/demo',
            f'val_dataloader.dataset.data_root={tmp_path}/demo/test',
            f'test_dataloader.dataset.data_root={tmp_path}/demo/test',
            'train_dataloader.dataset.pipeline.2.crop_size=64', 'default_hooks.logger.interval=1']
    res = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (work / 'iter_2.pth').exists() and (work / 'iter_1.pth').exists()
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    for key in ('loss_loc', 'loss_layer', 'layer_floor_gap', 'PSNR'):
        assert key in log
    # the run's checkpoints need exactly the allow-list to load weights-only
    needs = set().union(*(weights_only_needs(p) for p in glob.glob(str(work / '*.pth'))))
    assert needs == {f'{g.__module__}.{g.__qualname__}' for g in allowed_globals()}
    ckpt2 = load_checkpoint_file(str(work / 'iter_2.pth'))
    # resume (weights-only) from iteration 1 to 2 in another work dir: same weights,
    # optimiser, schedulers, moving averages, message hub and loss as uninterrupted
    work_r = tmp_path / 'r'
    args = base.copy()
    args[args.index(str(work))] = str(work_r)
    res = subprocess.run(args + ['--resume', str(work / 'iter_1.pth')], capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    ckpt_r = load_checkpoint_file(str(work_r / 'iter_2.pth'))
    assert ckpt_r['meta']['iter'] == 2
    assert ckpt_r['param_schedulers'] == ckpt2['param_schedulers']
    for net, optim in ckpt2['optimizer'].items():
        assert [s['step'] for s in ckpt_r['optimizer'][net]['state'].values()] == \
            [s['step'] for s in optim['state'].values()]

    def losses(run):
        (path, ) = glob.glob(str(run / '*' / 'vis_data' / 'scalars.json'))
        with open(path) as f:
            records = [json.loads(line) for line in f]
        return {k: v for r in records if r.get('step') == 2 for k, v in r.items()
                if k.startswith('loss')}

    expected = losses(work)
    assert expected and losses(work_r).keys() == expected.keys()
    for key, value in losses(work_r).items():
        assert value == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
    hub, hub_r = ckpt2['message_hub'], ckpt_r['message_hub']
    for key, buffer in hub['log_scalars'].items():
        if key.startswith('train/loss'):  # iteration 1 restored, iteration 2 appended
            np.testing.assert_allclose(hub_r['log_scalars'][key].data[0], buffer.data[0],
                                       rtol=1e-4, atol=1e-6, err_msg=key)
    assert hub_r['runtime_info']['iter'] == hub['runtime_info']['iter']
    # Convolution biases that feed an InstanceNorm have no gradient in exact arithmetic;
    # Adam turns their rounding-noise gradients into steps of up to about lr. At its
    # second step with betas (0.5, 0.999) |m_hat / sqrt(v_hat)| <= 1.06, so two runs
    # with different noise differ by at most 2.11 lr there; every other tensor must
    # match tightly.
    demo_cfg = Config.fromfile(osp.join(REPO, 'configs', 'nlcl_demo.py'))
    lr = demo_cfg.optim_wrapper.generator.optimizer.lr
    for k, v in ckpt2['state_dict'].items():
        got = ckpt_r['state_dict'][k]
        if k.endswith('bias'):
            assert float((got.float() - v.float()).abs().max()) <= 2.2 * lr, k
        else:
            torch.testing.assert_close(got, v, rtol=1e-4, atol=1e-5, msg=k)
    # test tool prints a table
    res = subprocess.run([
        sys.executable, osp.join(REPO, 'tools', 'test.py'), osp.join(REPO, 'configs', 'nlcl_demo.py'),
        str(work / 'iter_2.pth'), '--work-dir', str(tmp_path / 't'), '--out', str(tmp_path / 'm.json'),
        '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}/demo/test'
    ], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'PSNR' in res.stdout and (tmp_path / 'm.json').exists()
    # a training checkpoint derains photos directly (both generators, weights-only load)
    out = tmp_path / 'derained'
    photo = sorted((tmp_path / 'demo' / 'test' / 'input').iterdir())[0]
    res = subprocess.run([
        sys.executable, osp.join(REPO, 'tools', 'derain.py'), str(photo), '--checkpoint',
        str(work / 'iter_2.pth'), '--out-dir', str(out), '--save-rain'
    ], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    import cv2
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.image_io import read_image
    rgb, _ = read_image(str(photo))
    bg, rain = Derainer.from_checkpoints(str(work / 'iter_2.pth'), with_rain=True)(rgb)
    assert (cv2.imread(str(out / f'{photo.stem}.png'))[:, :, ::-1] == bg).all()
    assert (cv2.imread(str(out / f'{photo.stem}_rain.png'))[:, :, ::-1] == rain).all()
    # and the weights are the trained ones (their moving average, which the run validated
    # with), not a fresh generator's
    ckpt_g = {k[len('generator_ema.'):]: v for k, v in ckpt2['state_dict'].items()
              if k.startswith('generator_ema.')}
    assert ckpt_g
    derainer = Derainer.from_checkpoints(str(work / 'iter_2.pth'))
    for k, v in derainer.background.state_dict().items():
        assert torch.equal(v, ckpt_g[k]), k


def test_supervised_reference_crops_rainy_and_clean_at_the_same_place(tmp_path):
    """The supervised config's pipeline cuts aligned windows (the rainy crop correlates
    with its clean crop better than with the clean crop shifted by a few pixels)."""
    from mmagic.registry import DATASETS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'supervised_demo.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = ds_cfg.demo_root = str(tmp_path / 'demo')
    with DefaultScope.overwrite_default_scope('mmagic'):
        dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == len(glob.glob(str(tmp_path / 'demo' / 'train_rainy' / '*.png')))
    for i in range(4):
        item = dataset[i]
        rainy = item['inputs'].int()
        clean = item['data_samples'].gt_img.int()
        assert rainy.shape == clean.shape == (3, cfg.crop_size, cfg.crop_size)

        def corr(a, b):
            return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]).float())[0, 1])

        aligned = corr(rainy, clean)
        assert aligned > 0.8
        assert aligned > corr(rainy[:, :, 4:], clean[:, :, :-4]) + 0.02
        assert aligned > corr(rainy[:, 4:], clean[:, :-4]) + 0.02
        assert osp.basename(item['data_samples'].img_path) == osp.basename(
            item['data_samples'].gt_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (bf16) AMP set-up')
def test_train_tool_amp_on_cpu(tmp_path):
    """``tools/train.py --amp`` on CPU: AmpOptimWrapper with bf16 autocast, and it trains."""
    import warnings

    from nlcl_plugin.mmagic.runner_utils import build_runner
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler: "CUDA is not available. Disabling"
        runner = build_runner(
            osp.join(REPO, 'configs', 'nlcl_demo.py'), work_dir=str(tmp_path / 'w'), amp=True,
            cfg_options={'train_cfg.max_iters': 1, 'train_cfg.val_interval': 10,
                         'model.train_cfg.disc_init_steps': 0,
                         'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'train_dataloader.dataset.data_root': str(tmp_path / 'demo'),
                         'val_dataloader.dataset.data_root': str(tmp_path / 'demo' / 'test'),
                         'test_dataloader.dataset.data_root': str(tmp_path / 'demo' / 'test'),
                         'train_dataloader.dataset.pipeline.2.crop_size': 32})
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)  # as train() does
        for name in ('generator', 'discriminator'):
            wrapper = runner.optim_wrapper[name]
            assert type(wrapper).__name__ == 'AmpOptimWrapper'
            assert wrapper.cast_dtype == torch.bfloat16
        model = runner.model
        with runner.optim_wrapper['generator'].optim_context(model):
            assert torch.is_autocast_enabled('cpu')
            assert torch.get_autocast_dtype('cpu') == torch.bfloat16
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        runner.train()
    assert runner.iter == 1
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters()
               if n.startswith('generator.'))
