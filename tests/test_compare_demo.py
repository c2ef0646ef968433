"""tools/compare_demo.py: the method set, the per-seed aggregation and --jobs (no training)."""
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import compare_demo  # noqa: E402

from nlcl_plugin.evaluation import comparison  # noqa: E402


def seed_row(seed, psnr, ssim, train_seconds=None, detail_removed=None):
    """A per-seed row as ``train_and_evaluate`` returns it."""
    return dict(seed=seed, iterations=7, checkpoint=f'w/m/seed{seed}/iter_7.pth',
                psnr=psnr, ssim=ssim, input_psnr=20.0, input_ssim=0.6, images=5,
                detail_removed=detail_removed,
                base_removed=None if detail_removed is None else 2 * detail_removed,
                detail_projection=None if detail_removed is None else 3 * detail_removed,
                train_seconds=train_seconds)


def test_methods_and_their_configs():
    assert list(comparison.METHODS) == [
        'nlcl_recommended', 'nlcl_instance_norm_d', 'nlcl_no_streak_light',
        'nlcl_symmetric_layer', 'nlcl_no_ema', 'nlcl_identity', 'nlcl_rain_transplant',
        'nlcl_options_off',
        'nlcl_learned_heads',
        'nlcl_no_layer_loss',
        'nlcl_random_sampling', 'nlcl_cvpr_symmetric', 'nlcl_official_legacy', 'supervised_l1',
        'restormer', 'nafnet', 'cyclegan']
    assert comparison.METHODS['nlcl_recommended'][1] == 'configs/nlcl_demo.py'
    assert [n for n, m in comparison.METHODS.items() if m[2]] == [
        'supervised_l1', 'restormer', 'nafnet']
    # MMagic's models: configs of this project, in their metafile collections
    assert {n: comparison.METHODS[n][1] for n in comparison.HOST_MODELS} == {
        'restormer': 'configs/zoo/restormer_demo.py', 'nafnet': 'configs/zoo/nafnet_demo.py',
        'cyclegan': 'configs/zoo/cyclegan_demo.py'}
    assert comparison.aggregate('cyclegan', [seed_row(0, 20.0, 0.6)])['collection'] == 'CycleGAN'
    assert 'collection' not in comparison.aggregate('nlcl_recommended', [seed_row(0, 20.0, 0.6)])
    assert comparison.FIGURE_NLCL == 'nlcl_recommended'
    for _, config, _ in comparison.METHODS.values():
        assert osp.isfile(osp.join(REPO, config)), config


def test_configs_load():
    from mmengine.config import Config
    demo = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo.py'))
    for _, config, _ in comparison.METHODS.values():
        cfg = Config.fromfile(osp.join(REPO, config))
        assert cfg.crop_size == 128, config
        assert 'seed' in cfg.randomness, config
        # the budget rule: equal iterations, the same schedule, batch 1 and test split
        assert cfg.train_cfg.max_iters == demo.train_cfg.max_iters, config
        assert cfg.param_scheduler == demo.param_scheduler, config
        assert cfg.train_dataloader.batch_size == 1, config
        assert cfg.test_dataloader.dataset.data_root == demo.test_dataloader.dataset.data_root
        assert cfg.test_evaluator == demo.test_evaluator, config
    # the discriminator ablation differs from the recommended config in D alone
    rec = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_recommended'][1])).model
    abl = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_instance_norm_d'][1])).model
    assert (rec.discriminator.norm, rec.train_cfg.disc_init_steps) == ('none', 100)
    assert (abl.discriminator.norm, abl.train_cfg.disc_init_steps) == ('instance', 0)
    rec.discriminator = abl.discriminator
    rec.train_cfg = abl.train_cfg
    assert rec.to_dict() == abl.to_dict()
    # the moving-average ablation differs in the averages alone (model and hooks)
    rec_cfg = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_recommended'][1]))
    no_ema = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_no_ema'][1]))
    assert (rec_cfg.model.is_use_ema, no_ema.model.is_use_ema) == (True, False)
    hooks = [h for h in rec_cfg.custom_hooks if h.type != 'ExponentialMovingAverageHook']
    assert no_ema.custom_hooks == hooks and len(hooks) == len(rec_cfg.custom_hooks) - 1
    no_ema.model.is_use_ema = True
    assert no_ema.model.to_dict() == rec_cfg.model.to_dict()
    # the identity-loss variant adds that term alone, and the long schedule with it is the
    # long schedule plus the same term
    idt = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_identity'][1])).model
    assert idt.pop('identity_loss') == dict(type='IdentityLoss', loss_weight=5.0)
    assert idt.to_dict() == rec_cfg.model.to_dict()
    long_idt = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo_long_identity.py'))
    long_plain = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo_long.py'))
    assert long_idt.model.pop('identity_loss') == dict(type='IdentityLoss', loss_weight=5.0)
    assert long_idt.model.to_dict() == long_plain.model.to_dict()
    assert long_idt.param_scheduler == long_plain.param_scheduler
    # the rain-transplant variant adds that term alone
    tp = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_rain_transplant'][1])).model
    assert tp.pop('transplant_loss') == dict(type='RainTransplantLoss', loss_weight=5.0)
    assert tp.to_dict() == rec_cfg.model.to_dict()
    long_tp = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo_long_transplant.py'))
    assert long_tp.model.pop('transplant_loss') == dict(type='RainTransplantLoss', loss_weight=5.0)
    assert long_tp.model.to_dict() == long_plain.model.to_dict()
    assert long_tp.param_scheduler == long_plain.param_scheduler
    # the layer-loss ablation differs in the layer loss alone, and is the CVPR loss
    sym = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_symmetric_layer'][1])).model
    cvpr = Config.fromfile(osp.join(REPO, 'configs/nlcl_cvpr_symmetric.py')).model
    assert sym.layer_loss == cvpr.layer_loss
    sym.layer_loss = rec_cfg.model.layer_loss
    assert sym.to_dict() == rec_cfg.model.to_dict()
    # the earlier recommendation differs in G_B's form, what D sees and D's initial gain
    rec = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_recommended'][1])).model
    old = Config.fromfile(osp.join(REPO, comparison.METHODS['nlcl_no_streak_light'][1])).model
    assert (rec.objective.disc_input, old.objective.disc_input) == ('gray_detail',
                                                                    'gray_tone_detail')
    assert (rec.discriminator.init_gain, old.discriminator.init_gain) == (1.0, 0.02)
    assert rec.generator.streak_length == 21 and old.generator.get('streak_length', 0) == 0
    # the supervised reference trains the recommended G_B (the same form and options)
    sup = Config.fromfile(osp.join(REPO, comparison.METHODS['supervised_l1'][1])).model
    assert {k: v for k, v in sup.generator.items() if k != 'type'} == \
        {k: v for k, v in rec.generator.items() if k != 'type'}
    old.objective.disc_input = 'gray_detail'
    old.discriminator.init_gain = 1.0
    old.generator = rec.generator
    assert old.to_dict() == rec.to_dict()


def test_sample_std():
    assert comparison.sample_std([3.0]) == 0.0
    assert comparison.sample_std([1.0, 3.0]) == pytest.approx(2 ** 0.5)  # ddof=1
    assert comparison.sample_std([1.0, 2.0, 3.0, 4.0]) == pytest.approx((5 / 3) ** 0.5)
    with pytest.raises(ValueError):
        comparison.sample_std([])


def test_aggregate_three_seeds():
    rows = [seed_row(0, 26.26, 0.80, 100.0), seed_row(1, 26.31, 0.81, 110.0),
            seed_row(2, 26.36, 0.83, None)]  # seed 2: time unknown (reused, no log)
    row = comparison.aggregate('nlcl_recommended', rows)
    assert row['name'] == 'nlcl_recommended' and row['supervised'] is False
    assert row['config'] == 'configs/nlcl_demo.py'
    assert row['label'] == comparison.METHODS['nlcl_recommended'][0]
    assert row['seeds'] == [0, 1, 2]
    assert row['psnr_per_seed'] == [26.26, 26.31, 26.36]
    assert row['ssim_per_seed'] == [0.80, 0.81, 0.83]
    # mean 26.31; deviations -0.05, 0, +0.05 -> sqrt(0.005 / 2) = 0.05
    assert row['psnr'] == pytest.approx(26.31)
    assert row['psnr_std'] == pytest.approx(0.05)
    # mean 0.81333; squared deviations 1.7778e-4, 1.111e-5, 2.7778e-4 -> sqrt(4.6667e-4 / 2)
    assert row['ssim'] == pytest.approx(0.8133333, abs=1e-6)
    assert row['ssim_std'] == pytest.approx(0.0152753, abs=1e-6)
    assert row['checkpoint'] == 'w/m/seed0/iter_7.pth'
    assert row['checkpoints'] == [f'w/m/seed{s}/iter_7.pth' for s in range(3)]
    assert row['train_seconds'] == 105.0 and row['train_seconds_total'] == 210.0
    assert row['train_seconds_per_seed'] == [100.0, 110.0, None]
    assert (row['input_psnr'], row['input_ssim'], row['test_images']) == (20.0, 0.6, 5)
    assert row['iterations'] == 7
    assert 'detail_removed' not in row  # not measured: not reported


def test_aggregate_band_removal():
    rows = [seed_row(0, 26.0, 0.8, detail_removed=0.1), seed_row(1, 26.0, 0.8, detail_removed=0.3)]
    row = comparison.aggregate('nlcl_recommended', rows)
    assert row['detail_removed'] == pytest.approx(0.2)
    assert row['detail_removed_std'] == pytest.approx(0.02 ** 0.5)  # sqrt((.1^2 + .1^2) / 1)
    assert row['detail_removed_per_seed'] == [0.1, 0.3]
    assert row['base_removed'] == pytest.approx(0.4) and row['base_removed_per_seed'] == [0.2, 0.6]
    assert row['detail_projection'] == pytest.approx(0.6)
    # one seed without it (an older report): the mean would mix, so none is given
    rows.append(seed_row(2, 26.0, 0.8))
    assert 'detail_removed' not in comparison.aggregate('nlcl_recommended', rows)


def test_aggregate_one_seed_has_no_spread():
    row = comparison.aggregate('supervised_l1', [seed_row(4, 25.0, 0.8)])
    assert (row['psnr'], row['psnr_std'], row['ssim'], row['ssim_std']) == (25.0, 0.0, 0.8, 0.0)
    assert row['supervised'] is True and row['seeds'] == [4]
    assert 'train_seconds' not in row and 'train_seconds_total' not in row
    with pytest.raises(ValueError):
        comparison.aggregate('supervised_l1', [])


def test_jobs_share_the_cores():
    assert comparison.threads_per_job(1, 2) == 2
    assert comparison.threads_per_job(2, 2) == 1
    assert comparison.threads_per_job(3, 2) == 1  # never below one thread
    assert comparison.threads_per_job(2, 16) == 8
    assert comparison.threads_per_job(3, 16) == 5
    with pytest.raises(ValueError):
        comparison.threads_per_job(0, 2)
    base = {'PATH': '/bin', 'OMP_NUM_THREADS': '16'}
    assert comparison.job_env(4, 8, base) == {'PATH': '/bin', 'OMP_NUM_THREADS': '2'}
    assert base['OMP_NUM_THREADS'] == '16'  # the caller's mapping is left alone


def test_train_command_and_work_dir():
    cmd = comparison.train_command('configs/nlcl_demo.py', 'w/x/seed2', 7, 2)
    assert cmd[1:5] == ['tools/train.py', 'configs/nlcl_demo.py', '--work-dir', 'w/x/seed2']
    assert 'randomness.seed=2' in cmd and 'train_cfg.max_iters=7' in cmd
    assert comparison.seed_work_dir('/w', 'nlcl_recommended', 1) == \
        osp.join('/w', 'nlcl_recommended', 'seed1')


@pytest.mark.parametrize('jobs', [1, 2])
def test_run_all_trains_every_method_and_seed(monkeypatch, jobs):
    calls = []
    psnrs = {('nlcl_recommended', 0): 21.0, ('nlcl_recommended', 1): 22.0,
             ('supervised_l1', 0): 25.0, ('supervised_l1', 1): 26.0}

    def fake(name, seed, iters, work_root, reuse, env):
        calls.append((name, seed, iters, work_root, reuse, env['OMP_NUM_THREADS']))
        return seed_row(seed, psnrs[(name, seed)], 0.5 + seed / 10, 60.0)

    monkeypatch.setattr(compare_demo, 'train_and_evaluate', fake)
    monkeypatch.setattr(compare_demo, 'visible_cores', lambda: 4)
    rows = compare_demo.run_all(['nlcl_recommended', 'supervised_l1'], [0, 1], 7, '/w',
                                True, jobs)
    threads = str(4 // jobs)
    assert sorted(calls) == [('nlcl_recommended', 0, 7, '/w', True, threads),
                             ('nlcl_recommended', 1, 7, '/w', True, threads),
                             ('supervised_l1', 0, 7, '/w', True, threads),
                             ('supervised_l1', 1, 7, '/w', True, threads)]
    assert [r['name'] for r in rows] == ['nlcl_recommended', 'supervised_l1']
    assert [r['psnr'] for r in rows] == [21.5, 25.5]
    assert rows[0]['psnr_std'] == pytest.approx(0.5 ** 0.5)  # sqrt(((-.5)^2 + .5^2) / 1)
    assert rows[0]['ssim'] == pytest.approx(0.55)
    assert rows[1]['train_seconds_total'] == 120.0


def test_bad_jobs_is_refused():
    with pytest.raises(SystemExit):
        compare_demo.main(['--jobs', '0'])
    with pytest.raises(SystemExit):
        compare_demo.main(['--seeds', '1', '1'])


def test_low_lr_long_schedule_continues_the_demo_schedule():
    """configs/nlcl_demo_long_low_lr.py: the demo run's schedule to iteration 300, then its
    final learning rate (1/11 of the base) to iteration 1200; the model is the demo's."""
    import torch
    from mmengine.config import Config
    from mmengine.optim.scheduler import ConstantLR, LinearLR
    demo = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo.py'))
    low = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo_long_low_lr.py'))
    assert low.param_scheduler == demo.param_scheduler
    assert low.train_cfg.max_iters == 1200
    assert low.model.to_dict() == demo.model.to_dict()
    # the rate each iteration runs with, as mmengine's chainable schedulers set it
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    kinds = dict(ConstantLR=ConstantLR, LinearLR=LinearLR)
    scheds = [kinds[s['type']](opt, **{k: v for k, v in s.items() if k != 'type'})
              for s in low.param_scheduler]
    rates = []
    for _ in range(low.train_cfg.max_iters):
        rates.append(opt.param_groups[0]['lr'] / 2e-4)
        for sched in scheds:
            sched.step()
    assert rates[:250] == [1.0] * 250
    assert all(abs(r - 1 / 11) < 1e-9 for r in rates[299:])


def test_longer_supervised_schedules_are_the_reference_trained_longer():
    """supervised_demo_long.py / _20k.py: the supervised reference with a longer schedule
    (constant rate, a linear decay over its end) and nothing else changed."""
    from mmengine.config import Config
    ref = Config.fromfile(osp.join(REPO, 'configs/demo/supervised_demo.py'))
    for name, iters, decay in (('supervised_demo_long.py', 3000, 500),
                               ('supervised_demo_20k.py', 20000, 2000)):
        cfg = Config.fromfile(osp.join(REPO, 'configs/demo', name))
        assert cfg.model.to_dict() == ref.model.to_dict()
        assert cfg.train_dataloader.to_dict() == ref.train_dataloader.to_dict()
        assert cfg.optim_wrapper.to_dict() == ref.optim_wrapper.to_dict()
        assert cfg.train_cfg.max_iters == iters
        const, linear = cfg.param_scheduler
        assert (const.type, const.end) == ('ConstantLR', iters - decay)
        assert (linear.type, linear.begin, linear.end) == ('LinearLR', iters - decay, iters)
        assert linear.end_factor == pytest.approx(1 / 11)


def test_same_places_supervised_reference_matches_the_nlcl_recipe():
    """supervised_demo_same_places.py: the G_B, crops, schedule and test split of
    nlcl_demo_same_places.py, trained on that layout's paired cells."""
    from mmengine.config import Config
    nlcl = Config.fromfile(osp.join(REPO, 'configs/nlcl_demo_same_places.py'))
    cfg = Config.fromfile(osp.join(REPO, 'configs/demo/supervised_demo_same_places.py'))
    assert cfg.model.type == 'BaseEditModel'
    assert cfg.model.generator.to_dict() == nlcl.model.generator.to_dict()
    data = cfg.train_dataloader.dataset
    root = nlcl.train_dataloader.dataset.data_root
    assert (data.type, data.data_root, data.demo_root, data.demo_layout) == \
        ('DemoPairedRainDataset', root, root, 'same_places')
    assert data.data_prefix.to_dict() == dict(img='train_rainy', gt='train_target')
    (crop, ) = [t for t in data.pipeline if t.type == 'PairedRandomCrop']
    assert crop.gt_patch_size == nlcl.crop_size
    for key in ('val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == nlcl[key].dataset.data_root
        assert cfg[key].dataset.demo_layout == 'same_places'
    assert cfg.train_cfg.max_iters == nlcl.train_cfg.max_iters == 1200
    assert [s.to_dict() for s in cfg.param_scheduler] == \
        [s.to_dict() for s in nlcl.param_scheduler]
    assert cfg.optim_wrapper.optimizer.lr == nlcl.optim_wrapper.generator.optimizer.lr


def test_aggregate_per_rain_kind():
    """Per kind, each metric's mean and spread over seeds, as for the whole split."""
    rows = [seed_row(0, 26.0, 0.8), seed_row(1, 26.0, 0.8)]
    rows[0]['per_kind'] = {'layered': dict(psnr=25.0, detail_projection=0.2, images=5),
                           'drops': dict(psnr=27.0, detail_projection=0.5, images=5)}
    rows[1]['per_kind'] = {'layered': dict(psnr=27.0, detail_projection=0.4, images=5),
                           'drops': dict(psnr=27.0, detail_projection=0.3, images=5)}
    rows[0]['input_per_kind'] = {'layered': dict(psnr=24.0, images=5)}
    row = comparison.aggregate('nlcl_recommended', rows)
    layered = row['per_kind']['layered']
    assert layered['psnr'] == pytest.approx(26.0) and layered['psnr_std'] == pytest.approx(2 ** 0.5)
    assert layered['detail_projection_per_seed'] == [0.2, 0.4] and layered['images'] == 5
    assert row['per_kind']['drops']['psnr_std'] == 0.0
    assert list(row['per_kind']) == ['layered', 'drops']
    assert row['input_per_kind'] == rows[0]['input_per_kind']
    # seeds that disagree on the kinds (or have none) give no per-kind row
    del rows[1]['per_kind']['drops']
    assert 'per_kind' not in comparison.aggregate('nlcl_recommended', rows)
    assert comparison.per_kind_over_seeds([]) == {}
