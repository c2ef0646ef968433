"""The BasicSR adapter: registries, dataset, schedule, parity with the MMagic model, and
``tools/basicsr_train.py`` (train + validate, resume, multi-process on CPU)."""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('basicsr')

import nlcl_plugin.basicsr  # noqa: E402,F401  (registers the adapter)
from basicsr.archs import build_network  # noqa: E402
from basicsr.losses import build_loss  # noqa: E402
from basicsr.models import build_model  # noqa: E402
from basicsr.utils.registry import (ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY,  # noqa: E402
                                    MODEL_REGISTRY)
from nlcl_plugin.basicsr import LinearTailLR, UnpairedRainImageDataset  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'basicsr_train.py')
DEMO_YML = osp.join(REPO, 'configs', 'basicsr', 'nlcl_demo.yml')
# A short demo run on 64-pixel crops: checkpoints every 2 iterations, validation every 4.
SHORT_RUN = ['datasets:train:crop_size=64', 'val:val_freq=4', 'logger:save_checkpoint_freq=2',
             'logger:print_freq=1', 'train:net_d_init_iters=1']
TINY_OBJECTIVE = dict(num_loc_patches=16, num_bg_patches=4, num_rain_patches=8, patch_size=8,
                      search_size=12, gen_channels=8, embed_channels=16)
LOSS_TERMS = ('d_fake', 'd_real', 'g_gan', 'g_loc', 'g_layer', 'g_consistency', 'g_sparsity')


# --------------------------------------------------------------------------- helpers
def tiny_opt(legacy=False, dist=False, rank=0, world_size=1):
    """A training option dict for NLCLModel with small networks (no files needed)."""
    adam = dict(type='Adam', lr=2e-4, betas=[0.5, 0.999])
    objective = dict(TINY_OBJECTIVE)
    if legacy:
        objective.update(legacy_disc_taps=True, legacy_freeze_loc_heads=True,
                         legacy_adv_head_bug=True)
    return {
        'name': 'tiny', 'model_type': 'NLCLModel', 'num_gpu': 0, 'is_train': True,
        'dist': dist, 'rank': rank, 'world_size': world_size,
        'network_g': dict(type='NLCLGenerator', mid_channels=8),
        'network_r': dict(type='NLCLGenerator', mid_channels=8),
        'network_d': dict(type='NLCLDiscriminator', base_channels=8),
        'path': {},
        'train': {
            'gan_opt': dict(type='GANLoss', gan_type='lsgan', real_label_val=1.0,
                            fake_label_val=0.0, loss_weight=1.0),
            'layer_opt': dict(type='LayerContrastiveLoss'),
            'objective': objective,
            'optim_g': dict(adam), 'optim_d': dict(adam),
            'scheduler': dict(type='LinearTailLR', decay_iter=2),
            'total_iter': 10,
        },
    }


def dyadic_batch(n=2, size=32, seed=0):
    """(rainy, clean) in [-1, 1] on a 1/128 grid, so [0, 1] <-> [-1, 1] is exact."""
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(0, 257, (n, 3, size, size), generator=g).float() / 128 - 1
                 for _ in range(2))


def run_tool(args, cwd, timeout=300):
    res = subprocess.run([sys.executable, TOOL] + args, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-6000:]
    return res.stdout + res.stderr


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_rgb(path, rgb):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.ascontiguousarray(rgb[:, :, ::-1]))


# --------------------------------------------------------------------------- registries
def test_registries_hold_the_adapter():
    assert 'NLCLModel' in MODEL_REGISTRY
    assert 'NLCLGenerator' in ARCH_REGISTRY and 'NLCLDiscriminator' in ARCH_REGISTRY
    for name in ('LayerContrastiveLoss', 'LocationContrastiveLoss', 'ConsistencyLoss',
                 'SparsityLoss', 'IdentityLoss', 'RainTransplantLoss', 'IdempotenceLoss',
                 'StreakFloorLoss', 'LayerExclusionLoss'):
        assert name in LOSS_REGISTRY
        assert build_loss(dict(type=name)) is not None
    assert 'UnpairedRainImageDataset' in DATASET_REGISTRY
    # BasicSR's own names are untouched
    assert 'SRModel' in MODEL_REGISTRY and 'GANLoss' in LOSS_REGISTRY
    g = build_network(dict(type='NLCLGenerator'))
    d = build_network(dict(type='NLCLDiscriminator'))
    assert sum(p.numel() for p in g.parameters()) == 316195
    assert sum(p.numel() for p in d.parameters()) == 2764737
    assert build_network(dict(type='NLCLGenerator', mid_channels=8)).mid_channels == 8


# --------------------------------------------------------------------------- dataset
def test_unpaired_dataset_crops_pads_and_returns_rgb(tmp_path):
    rng = np.random.default_rng(0)
    red = np.zeros((40, 50, 3), np.uint8)
    red[..., 0] = 255
    write_rgb(str(tmp_path / 'rainy' / 'a.png'), red)
    small = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    write_rgb(str(tmp_path / 'rainy' / 'sub' / 'b.PNG'), small)
    write_rgb(str(tmp_path / 'rainy' / 'c.jpg'), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    write_rgb(str(tmp_path / 'clean' / 'x.png'), rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))
    opt = dict(name='t', phase='train', dataroot_rainy=str(tmp_path / 'rainy'),
               dataroot_clean=str(tmp_path / 'clean'), crop_size=32)
    ds = UnpairedRainImageDataset(opt)
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert set(item) == {'lq', 'gt', 'lq_path', 'gt_path'}
        for key in ('lq', 'gt'):
            assert item[key].shape == (3, 32, 32) and item[key].dtype == torch.float32
            assert 0 <= item[key].min() and item[key].max() <= 1
        assert item['gt_path'].endswith('x.png')
    assert ds.rainy_paths[0].endswith('a.png')
    assert torch.all(ds[0]['lq'][0] == 1) and torch.all(ds[0]['lq'][1:] == 0)  # RGB order
    # 20x30 < 32: reflect-padded (never stretched) with the original centred
    padded = ds[2 if ds.rainy_paths[2].endswith('b.PNG') else 1]['lq']
    assert torch.allclose(padded[:, 6:26, 1:31],
                          torch.from_numpy(small.transpose(2, 0, 1)).float() / 255)


def test_unpaired_dataset_errors_name_the_folder_and_key(tmp_path):
    (tmp_path / 'rainy').mkdir()
    write_rgb(str(tmp_path / 'rainy' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    opt = dict(name='t', phase='train', dataroot_rainy=str(tmp_path / 'rainy'),
               dataroot_clean=str(tmp_path / 'nope'), crop_size=8)
    with pytest.raises(FileNotFoundError, match=r'nope does not exist.*dataroot_clean'):
        UnpairedRainImageDataset(opt)
    (tmp_path / 'empty').mkdir()
    opt['dataroot_clean'] = str(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match=r'no images under .*empty.*dataroot_clean'):
        UnpairedRainImageDataset(opt)
    with pytest.raises(KeyError, match='dataroot_rainy'):
        UnpairedRainImageDataset(dict(name='t', dataroot_clean=str(tmp_path / 'rainy')))


# --------------------------------------------------------------------------- schedule
def test_linear_tail_lr_matches_mmagic_schedule():
    """LinearTailLR = the MMagic configs' ConstantLR + LinearLR pair, iteration by iteration."""
    from mmengine.optim.scheduler import ConstantLR, LinearLR
    total, decay = 30, 10
    opt_a = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    opt_b = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    ours = LinearTailLR(opt_a, total_iter=total, decay_iter=decay, end_factor=1 / 11)
    theirs = [ConstantLR(opt_b, factor=1.0, by_epoch=False, begin=0, end=total - decay),
              LinearLR(opt_b, start_factor=1.0, end_factor=1 / 11, by_epoch=False,
                       begin=total - decay, end=total)]
    for _ in range(total + 3):
        assert opt_a.param_groups[0]['lr'] == pytest.approx(opt_b.param_groups[0]['lr'],
                                                             rel=1e-9)
        opt_a.step()
        opt_b.step()
        ours.step()
        for s in theirs:
            s.step()
    assert opt_a.param_groups[0]['lr'] == pytest.approx(2e-4 / 11)


# --------------------------------------------------------------------------- parity
@pytest.mark.parametrize('legacy,extra', [(False, None), (True, None), (False, 'identity'),
                                          (False, 'transplant'), (False, 'idempotence'),
                                          (False, 'gan_stop'), (False, 'streak_floor'),
                                          (False, 'fake_identity'), (False, 'exclusion'),
                                          (False, 'identity_mix')],
                         ids=['paper', 'legacy', 'identity_loss', 'transplant_loss',
                              'idempotence_loss', 'gan_stop_quantile', 'streak_floor_loss',
                              'fake_identity', 'exclusion_loss', 'identity_mix'])
def test_training_step_equals_the_mmagic_model(legacy, extra):
    """Same weights, batch and seed: every loss term (and the updated weights) match."""
    pytest.importorskip('mmagic')
    from mmengine.registry import DefaultScope

    import nlcl_plugin.mmagic  # noqa: F401
    from mmagic.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    from mmagic.structures import DataSample

    torch.manual_seed(0)
    opt = tiny_opt(legacy)
    identity_loss = (dict(type='IdentityLoss', loss_weight=2.0)
                     if extra in ('identity', 'identity_mix') else None)
    transplant_loss = (dict(type='RainTransplantLoss', loss_weight=1.5)
                       if extra == 'transplant' else None)
    if identity_loss:
        opt['train']['identity_opt'] = dict(identity_loss)
    idempotence_loss = (dict(type='IdempotenceLoss', loss_weight=4.0)
                        if extra == 'idempotence' else None)
    if transplant_loss:
        opt['train']['transplant_opt'] = dict(transplant_loss)
    if idempotence_loss:
        opt['train']['idempotence_opt'] = dict(idempotence_loss)
    streak_floor_loss = (dict(type='StreakFloorLoss', loss_weight=30.0)
                         if extra == 'streak_floor' else None)
    if streak_floor_loss:
        opt['train']['streak_floor_opt'] = dict(streak_floor_loss)
    exclusion_loss = (dict(type='LayerExclusionLoss', loss_weight=6.0)
                      if extra == 'exclusion' else None)
    if exclusion_loss:
        opt['train']['exclusion_opt'] = dict(exclusion_loss)
    if extra == 'gan_stop':
        opt['train']['objective']['gan_stop_quantile'] = 0.5
    if extra == 'fake_identity':
        opt['train']['objective']['fake_identity'] = True
    mix = dict(identity_mix=4, loc_identity=False) if extra == 'identity_mix' else {}
    opt['train']['objective'].update(mix)
    bs_model = build_model(opt)
    assert bs_model.objective.gan_stop_quantile == (0.5 if extra == 'gan_stop' else None)
    assert bs_model.objective.fake_identity == (extra == 'fake_identity')
    objective = dict(TINY_OBJECTIVE)
    if extra == 'gan_stop':
        objective['gan_stop_quantile'] = 0.5
    if extra == 'fake_identity':
        objective['fake_identity'] = True
    objective.update(mix)
    if legacy:
        objective.update(legacy_disc_taps=True, legacy_freeze_loc_heads=True,
                         legacy_adv_head_bug=True)
    adam = dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))
    optim_cfg = dict(
        generator=dict(type='OptimWrapper', optimizer=adam,
                       modules=['generator', 'rain_generator', 'objective']),
        discriminator=dict(type='OptimWrapper', optimizer=adam, modules=['discriminator']))
    if legacy:
        optim_cfg['rain_heads_legacy'] = dict(type='OptimWrapper', optimizer=adam,
                                              modules=['objective.rain_sampler'])
    torch.manual_seed(1)  # different initial weights, then copied over
    with DefaultScope.overwrite_default_scope('mmagic'):
        mm_model = MODELS.build(dict(
            type='NLCL',
            generator=dict(type='DecompositionGenerator', mid_channels=8),
            rain_generator=dict(type='DecompositionGenerator', mid_channels=8),
            discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
            gan_loss=dict(type='GANLoss', gan_type='lsgan', real_label_val=1.0,
                          fake_label_val=0.0, loss_weight=1.0),
            layer_loss=dict(type='LayerContrastiveLoss'),
            identity_loss=identity_loss,
            transplant_loss=transplant_loss,
            idempotence_loss=idempotence_loss,
            streak_floor_loss=streak_floor_loss,
            exclusion_loss=exclusion_loss,
            objective=objective,
            # identity normalisation: the batch below is already in [-1, 1]
            data_preprocessor=dict(type='DataPreprocessor', mean=[0.] * 3, std=[1.] * 3)))
        optims = OPTIM_WRAPPER_CONSTRUCTORS.build(
            dict(type='MultiOptimWrapperConstructor', optim_wrapper_cfg=optim_cfg))(mm_model)
    pairs = [(mm_model.generator, bs_model.net_g), (mm_model.rain_generator, bs_model.net_r),
             (mm_model.discriminator, bs_model.net_d), (mm_model.objective, bs_model.objective)]
    for mm_net, bs_net in pairs:
        bs_net.load_state_dict(mm_net.state_dict())

    rainy, clean = dyadic_batch()
    samples = [DataSample(gt_img=img.clone()) for img in clean]
    torch.manual_seed(1234)
    mm_logs = mm_model.train_step(dict(inputs=list(rainy.clone()), data_samples=samples), optims)
    torch.manual_seed(1234)
    bs_model.feed_data({'lq': (rainy + 1) / 2, 'gt': (clean + 1) / 2})
    bs_model.optimize_parameters(1)
    bs_logs = bs_model.get_current_log()

    extra_terms = ((f'g_{extra}',) if extra in ('identity', 'transplant', 'idempotence',
                                                 'streak_floor', 'exclusion') else
                   ('g_identity',) if extra == 'identity_mix' else ())
    for term in LOSS_TERMS + extra_terms:
        stem = term.split('_', 1)[1] if term.startswith('g_') else term
        assert bs_logs[f'l_{term}'] == pytest.approx(float(mm_logs[f'loss_{stem}'].detach()),
                                                      abs=1e-6), term
    for key_bs, key_mm in (('l_d', 'loss_d'), ('l_g', 'loss_g'),
                           ('layer_floor_gap', 'layer_floor_gap')):
        assert bs_logs[key_bs] == pytest.approx(float(torch.as_tensor(mm_logs[key_mm]).detach()),
                                                abs=1e-6), key_bs
    for mm_net, bs_net in pairs:  # one optimiser step each: the same update
        for (name, p_mm), p_bs in zip(mm_net.named_parameters(), bs_net.parameters()):
            assert torch.allclose(p_mm, p_bs, atol=1e-6, rtol=0), name


def test_generator_steps_start_after_net_d_init_iters():
    opt = tiny_opt()
    opt['train']['net_d_init_iters'] = 1
    torch.manual_seed(0)
    model = build_model(opt)
    rainy, clean = dyadic_batch(n=1)
    model.feed_data({'lq': (rainy + 1) / 2, 'gt': (clean + 1) / 2})
    before = [p.clone() for p in model.net_g.parameters()]
    model.optimize_parameters(1)
    assert 'l_g' not in model.get_current_log() and 'l_d' in model.get_current_log()
    assert all(torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))
    model.optimize_parameters(2)
    assert 'l_g_layer' in model.get_current_log()
    model.test()
    assert model.output.shape == rainy.shape
    assert 0 <= model.output.min() and model.output.max() <= 1


@pytest.mark.parametrize('name', ['nlcl_demo.yml', 'nlcl_real_rain.yml'])
def test_option_files_build_the_model(name):
    import yaml
    from basicsr.utils.options import ordered_yaml
    with open(osp.join(REPO, 'configs', 'basicsr', name)) as f:
        opt = yaml.load(f, Loader=ordered_yaml()[0])
    opt.update(num_gpu=0, dist=False, rank=0, world_size=1, is_train=True)
    model = build_model(opt)
    assert model.net_d_init_iters == 100
    assert model.ema_decay == 0.99 and model.net_g_ema is not model.net_g
    assert model.net_d.norm == 'none' and model.net_d.init_gain == 1.0
    assert model.net_g.streak_length == 21 and model.net_g.veil_scale == 16
    layer = model.objective.layer_loss
    assert (layer.tau_bg, layer.tau_rain, layer.weight_bg, layer.weight_rain) == \
        (0.1, 0.05, 0.5, 0.5)
    assert model.objective.gan_loss.gan_type == 'lsgan'
    assert tuple(model.optimizer_g.param_groups[0]['betas']) == (0.5, 0.999)
    (sched, _) = model.schedulers
    total = opt['train']['total_iter']
    assert sched.total_iter == total
    assert sched.factor(total - opt['train']['scheduler']['decay_iter'] - 1) == 1.0
    assert sched.factor(total - 1) == pytest.approx(1 / 11)


# --------------------------------------------------------------------------- the script
@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """``tools/basicsr_train.py`` on the demo YAML, 4 iterations, in a temporary root."""
    root = str(tmp_path_factory.mktemp('basicsr_root'))
    out = run_tool(['-opt', DEMO_YML, '--root', root, '--force_yml', 'train:total_iter=4']
                   + SHORT_RUN, cwd=root)
    return root, out


def test_demo_yaml_trains_validates_and_checkpoints(demo_run):
    root, out = demo_run
    exp = osp.join(root, 'experiments', 'nlcl_demo')
    # prepare_demo built the data under the working directory (the temporary root)
    assert osp.isfile(osp.join(root, 'data', 'nlcl_demo', 'manifest.json'))
    for it in (2, 4, 'latest'):
        for net in ('g', 'r', 'd', 'objective'):
            assert osp.isfile(osp.join(exp, 'models', f'net_{net}_{it}.pth')), (net, it)
    assert sorted(os.listdir(osp.join(exp, 'training_states'))) == ['2.state', '4.state']
    (log_file, ) = glob.glob(osp.join(exp, 'train_nlcl_demo_*.log'))
    with open(log_file) as f:
        log = f.read()
    assert len(re.findall(r'Validation nlcl_demo_test\s+# psnr: \d+\.\d+.*\s+# ssim: 0\.\d+',
                          log)) == 2
    line = [ln for ln in log.splitlines() if 'iter:       4,' in ln][0]
    for term in LOSS_TERMS + ('d', 'g'):
        assert re.search(rf'l_{term}: -?\d\.\d+e[+-]\d+', line), term
    assert 'layer_floor_gap' in line
    import yaml
    with open(DEMO_YML) as f:
        net = build_network(dict(yaml.safe_load(f)['network_g']))  # residual G_B
    saved = torch.load(osp.join(exp, 'models', 'net_g_4.pth'))
    net.load_state_dict(saved['params'])
    assert net.residual
    net.load_state_dict(saved['params_ema'])  # the moving average (train.ema_decay)


def test_auto_resume_continues_from_the_saved_iteration(demo_run):
    root, _ = demo_run
    out = run_tool(['-opt', DEMO_YML, '--root', root, '--auto_resume', '--force_yml',
                    'train:total_iter=6'] + SHORT_RUN, cwd=root)
    exp = osp.join(root, 'experiments', 'nlcl_demo')
    assert 'Resuming training from epoch: 0, iter: 4.' in out
    assert 'net_objective_4.pth' in out  # the projection heads are restored too
    assert re.search(r'iter:\s+5,', out) and not re.search(r'iter:\s+[1-4],', out)
    assert osp.isfile(osp.join(exp, 'models', 'net_g_6.pth'))
    assert '6.state' in os.listdir(osp.join(exp, 'training_states'))


def test_resume_from_saved_files_is_weights_only_and_exact(tmp_path, monkeypatch):
    """BasicSR's own files of iteration 2 (networks with moving averages, heads,
    optimisers, schedulers) load weights-only through ``basicsr.train``'s resume, and
    iterations 3-4 then give the uninterrupted run's losses and weights exactly."""
    import copy

    import basicsr.train

    from test_checkpoint_safety import weights_only_needs
    opt = tiny_opt()
    opt['train']['ema_decay'] = 0.9
    opt['path'] = {'models': str(tmp_path / 'models'),
                   'training_states': str(tmp_path / 'training_states')}
    for folder in opt['path'].values():
        os.makedirs(folder)
    batches = {it: dyadic_batch(n=1, seed=it) for it in (1, 2, 3, 4)}

    def step(model, it):  # as basicsr.train.train_pipeline
        model.update_learning_rate(it, warmup_iter=-1)
        rainy, clean = batches[it]
        model.feed_data({'lq': (rainy + 1) / 2, 'gt': (clean + 1) / 2})
        model.optimize_parameters(it)
        return dict(model.get_current_log())

    def state(model):
        nets = {name: getattr(model, name).state_dict() for name in
                ('net_g', 'net_r', 'net_d', 'net_g_ema', 'net_r_ema', 'objective')}
        return nets, [o.state_dict() for o in model.optimizers], \
            [s.state_dict() for s in model.schedulers]

    torch.manual_seed(0)
    model = build_model(opt)
    for it in (1, 2):
        step(model, it)
    model.save(epoch=0, current_iter=2)
    expected_losses = [step(model, it) for it in (3, 4)]
    expected = state(model)

    files = sorted(glob.glob(str(tmp_path / '*' / '*_2.pth')) +
                   glob.glob(str(tmp_path / 'training_states' / '*.state')))
    assert len(files) == 5
    assert all(weights_only_needs(f) == set() for f in files)  # torch's defaults only
    calls = []
    real_load = torch.load

    def recording_load(f, *args, **kwargs):
        calls.append((osp.basename(str(f)), kwargs.get('weights_only')))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, 'load', recording_load)
    opt_r = copy.deepcopy(opt)
    opt_r.update(auto_resume=False)
    opt_r['path']['resume_state'] = osp.join(opt['path']['training_states'], '2.state')
    resume_state = basicsr.train.load_resume_state(opt_r)  # also points pretrain_* at 2
    torch.manual_seed(1)  # other initial weights: everything must come from the files
    resumed = build_model(opt_r)
    resumed.resume_training(resume_state)
    torch.manual_seed(0)  # the run's seed, as BasicSR sets it (the samplers derive from it)
    assert {name for name, _ in calls} == {osp.basename(f) for f in files}
    assert all(weights_only is True for _, weights_only in calls), calls
    assert [step(resumed, it) for it in (3, 4)] == expected_losses
    got = state(resumed)
    for name, sd in expected[0].items():
        assert all(torch.equal(got[0][name][k], v) for k, v in sd.items()), name
    for a, b in zip(got[1], expected[1]):
        assert a['param_groups'] == b['param_groups']
        for i, st in b['state'].items():
            assert all(torch.equal(a['state'][i][k], v) for k, v in st.items())
    assert got[2] == expected[2]


# --------------------------------------------------------------------------- distributed
def _ddp_worker(rank, world_size, port, out_dir):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    torch.manual_seed(100 + rank)  # BasicSR seeds each rank differently
    model = build_model(tiny_opt(dist=True, rank=rank, world_size=world_size))
    for it in (1, 2):
        rainy, clean = dyadic_batch(n=1, seed=10 * rank + it)  # different data per rank
        model.feed_data({'lq': (rainy + 1) / 2, 'gt': (clean + 1) / 2})
        model.optimize_parameters(it)
    flat = torch.cat([p.detach().reshape(-1) for net in
                      (model.net_g, model.net_r, model.net_d, model.objective)
                      for p in net.parameters()])
    torch.save(flat, osp.join(out_dir, f'{rank}.pt'))
    dist.destroy_process_group()


@pytest.mark.slow
def test_distributed_cpu_ranks_stay_in_sync(tmp_path):
    """Networks (DDP) and projection heads (all-reduced) are identical on both ranks."""
    import torch.multiprocessing as mp
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    a, b = torch.load(tmp_path / '0.pt'), torch.load(tmp_path / '1.pt')
    assert torch.equal(a, b)


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    root = str(tmp_path)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           f'--master_port={free_port()}', TOOL, '-opt', DEMO_YML, '--launcher', 'pytorch',
           '--root', root, '--force_yml', 'train:total_iter=4'] + SHORT_RUN
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert 'World size (gpu number): 2' in out
    assert 'DistributedDataParallel - NLCLGenerator' in out
    assert len(re.findall(r'Validation nlcl_demo_test', out)) == 2
    assert osp.isfile(osp.join(root, 'experiments', 'nlcl_demo', 'models', 'net_objective_4.pth'))


def test_dataset_prepares_the_demo_layout_it_is_given(tmp_path):
    """``prepare_demo`` with ``demo_layout: same_places`` builds the same-places demo data
    in the parent of ``dataroot_rainy``; an unknown layout is refused."""
    root = tmp_path / 'sp'
    opt = dict(name='t', phase='train', dataroot_rainy=str(root / 'train_rainy'),
               dataroot_clean=str(root / 'train_clean'), prepare_demo=True,
               demo_layout='same_places', crop_size=64)
    ds = UnpairedRainImageDataset(opt)
    assert (len(ds.rainy_paths), len(ds.clean_paths)) == (48, 22)
    assert '"layout": "same_places"' in (root / 'manifest.json').read_text()
    with pytest.raises(ValueError, match='layout'):
        UnpairedRainImageDataset(dict(opt, demo_layout='checkers'))


def test_same_places_yaml_is_the_mmagic_config():
    """configs/basicsr/nlcl_demo_same_places.yml sets what configs/nlcl_demo_same_places.py
    sets: G_B's form, the losses' weights, the schedule, the seed and the data layout."""
    import yaml
    from mmengine.config import Config
    with open(osp.join(REPO, 'configs', 'basicsr', 'nlcl_demo_same_places.yml')) as f:
        opt = yaml.safe_load(f)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'nlcl_demo_same_places.py'))
    gen = {k: v for k, v in cfg.model.generator.items() if k != 'type'}
    yml = {k: v for k, v in opt['network_g'].items() if k != 'type'}
    assert {k: gen.get(k) for k in yml} == yml and yml['thin_light_init'] == 0.2
    train = opt['train']
    assert train['loc_opt']['loss_weight'] == cfg.model.loc_loss.loss_weight == 0.0
    assert train['identity_opt'] == dict(cfg.model.identity_loss)
    assert train['total_iter'] == cfg.train_cfg.max_iters == 1200
    assert train['scheduler']['decay_iter'] == cfg.decay_iters
    assert opt['manual_seed'] == cfg.randomness.seed
    data = opt['datasets']['train']
    assert data['demo_layout'] == cfg.train_dataloader.dataset.demo_layout == 'same_places'
    assert osp.dirname(data['dataroot_rainy']) == cfg.train_dataloader.dataset.data_root
