"""Bad configuration and wrong checkpoints: one-line errors naming the key or the file."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope

import nlcl_plugin.mmagic  # noqa: F401
from mmagic.registry import MODELS
from nlcl_plugin.mmagic.runner_utils import (CheckpointError, ConfigError, check_checkpoint,
                                             load_config, validate_config)

from rb_helpers import REPO, make_paired, make_unpaired, run_tool, train_config

DEMO = osp.join(REPO, 'configs', 'nlcl_demo.py')
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')) +
                 glob.glob(osp.join(REPO, 'configs', 'demo', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_shipped_configs_pass_the_checks(path):
    validate_config(load_config(path))


@pytest.mark.parametrize('options, expected', [
    ({'model.objective.num_loc_patchs': 64},
     "model.objective.num_loc_patchs: unknown option of NLCLObjective (did you mean "
     "'num_loc_patches'?)"),
    ({'model.layer_loss.type': 'LayerContrastivLoss'},
     "model.layer_loss.type='LayerContrastivLoss' is not a registered model"),
    ({'model.gan_loss.gan_tpe': 'lsgan'}, "model.gan_loss.gan_tpe: unknown option of GANLoss"),
    ({'model.train_cfg.disc_step': 2}, "model.train_cfg.disc_step: unknown option"),
    ({'model.objective.loc_neg_sampling': 'nonlocal'},
     "model.objective.loc_neg_sampling='nonlocal' must be one of"),
    ({'model.objective.num_rain_patches': 900},
     'model.objective.num_rain_patches=900 with patch_size=16, search_size=40 does not fit '
     'the training crop train_dataloader.dataset.pipeline.2.crop_size=128'),
    ({'model.objective.search_size': 14},
     'model.objective.num_loc_patches=256 with patch_size=16, search_size=14'),
    ({'train_dataloader.dataset.pipeline.2.crop_size': 8},
     'smaller than patch_size 16'),
    ({'train_dataloader.dataset.pipeline.2.crop_sise': 64},
     'train_dataloader.dataset.pipeline.2.crop_sise: unknown option of RandomCropOrPad'),
    ({'train_dataloader.dataset.pipeline.0.type': 'LoadRGBImag'},
     "train_dataloader.dataset.pipeline.0.type='LoadRGBImag' is not a registered transform"),
    ({'default_hooks.nonfinite_loss.mod': 'stop'},
     'default_hooks.nonfinite_loss.mod: unknown option of NonFiniteLossHook'),
])
def test_config_mistakes_name_the_key(options, expected):
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(DEMO, options))
    assert expected in str(err.value)
    assert '\n' not in str(err.value)


def test_a_crop_larger_than_the_images_is_allowed():
    """Padding policy: RandomCropOrPad pads small images, so only k vs crop is checked."""
    validate_config(load_config(DEMO, {'train_dataloader.dataset.pipeline.2.crop_size': 512}))


TINY = dict(generator=dict(type='DecompositionGenerator', mid_channels=8),
            rain_generator=dict(type='DecompositionGenerator', mid_channels=8),
            discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
            objective=dict(num_loc_patches=16, num_bg_patches=4, num_rain_patches=8,
                           patch_size=8, search_size=12, embed_channels=16))


def tiny_model(mid=8):
    cfg = load_config(DEMO).model
    for key, value in TINY.items():  # merged as a config file's model dict would be
        cfg[key].update(value)
    cfg.generator.mid_channels = mid
    with DefaultScope.overwrite_default_scope('mmagic'):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def model():
    return tiny_model()


def test_checkpoint_checks(tmp_path, model):
    sd = model.state_dict()
    full = tmp_path / 'full.pth'
    torch.save(dict(state_dict=sd, meta=dict(iter=3, epoch=0), message_hub={}), full)
    for purpose in ('resume', 'load', 'test'):
        check_checkpoint(str(full), model, purpose)
    # truncated (killed while writing) and not a checkpoint at all
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(full.read_bytes()[:full.stat().st_size // 2])
    (tmp_path / 'text.pth').write_text('hello')
    for bad in ('cut.pth', 'text.pth'):
        with pytest.raises(CheckpointError, match=f'--resume=.*{bad}: cannot read'):
            check_checkpoint(str(tmp_path / bad), model, 'resume', '--resume')
    with pytest.raises(CheckpointError, match='load_from=.*nope.pth: checkpoint file not found'):
        check_checkpoint(str(tmp_path / 'nope.pth'), model)
    # another architecture: same names, other shapes
    other = tmp_path / 'wide.pth'
    torch.save(dict(state_dict=tiny_model(mid=16).state_dict()), other)
    for purpose in ('resume', 'load', 'test'):
        with pytest.raises(CheckpointError, match='another architecture: .* have another shape'):
            check_checkpoint(str(other), model, purpose, 'checkpoint')
    # an official generator file: a hint to convert it
    official = tmp_path / 'latest_net_Back.pth'
    torch.save({'gen.0.weight': torch.zeros(8, 3, 3, 3)}, official)
    with pytest.raises(CheckpointError, match='convert_official_checkpoint'):
        check_checkpoint(str(official), model, 'test', 'checkpoint')
    # generator weights only (an exported / converted file): testable, not resumable
    gen = tmp_path / 'gen.pth'
    torch.save(dict(state_dict={k: v for k, v in sd.items() if 'generator.' in k}), gen)
    check_checkpoint(str(gen), model, 'test')
    check_checkpoint(str(gen), model, 'load')
    with pytest.raises(CheckpointError, match=f'of the {len(sd)} weights of NLCL are missing'):
        check_checkpoint(str(gen), model, 'resume')
    nogen = tmp_path / 'nogen.pth'
    torch.save(dict(state_dict={k: v for k, v in sd.items() if k.startswith('disc')}), nogen)
    with pytest.raises(CheckpointError, match=r'are missing \(another .*\), e.g. generator.'):
        check_checkpoint(str(nogen), model, 'test')
    # all weights but no training state: cannot be resumed
    weights = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=sd), weights)
    with pytest.raises(CheckpointError, match='not a training checkpoint'):
        check_checkpoint(str(weights), model, 'resume')


def test_tools_stop_before_work_with_one_line(tmp_path):
    data = make_unpaired(tmp_path / 'data', size=(20, 24))
    cfg = train_config(tmp_path, data)
    res = run_tool(tmp_path, 'train.py', cfg, '--work-dir', tmp_path / 'w', '--cfg-options',
                   'model.objective.num_bg_patchs=4')
    assert res.returncode == 2, res.stderr[-2000:]
    assert 'error: model.objective.num_bg_patchs: unknown option' in res.stderr
    assert 'Traceback' not in res.stderr
    # a wrong checkpoint for load_from / --resume
    (tmp_path / 'bad.pth').write_bytes(b'\x00' * 100)
    res = run_tool(tmp_path, 'train.py', cfg, '--work-dir', tmp_path / 'w',
                   '--resume', tmp_path / 'bad.pth')
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    assert f'error: --resume={tmp_path / "bad.pth"}: cannot read the checkpoint' in res.stderr
    assert not glob.glob(str(tmp_path / 'w' / '*.pth'))
    # an empty rainy folder: named with its config key before training
    for f in glob.glob(str(tmp_path / 'data' / 'train_rainy' / '*')):
        os.remove(f)
    res = run_tool(tmp_path, 'train.py', cfg, '--work-dir', tmp_path / 'w')
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    line = [x for x in res.stderr.splitlines() if x.startswith('error:')][0]
    assert str(tmp_path / 'data' / 'train_rainy') in line and 'data_prefix.rainy' in line


def test_test_tool_names_a_wrong_checkpoint_and_a_bad_test_image(tmp_path, model):
    data = make_unpaired(tmp_path / 'data')
    test_root = make_paired(tmp_path / 'testset', n=2)
    cfg = train_config(tmp_path, data, extra=f'''
test_dataloader = dict(_delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    drop_last=False, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BasicImageDataset', data_root={test_root!r},
                 metainfo=dict(dataset_type='MyTest', task_name='deraining'),
                 data_prefix=dict(img='input', gt='target'),
                 pipeline=[dict(type='LoadRGBImage', key='img'),
                           dict(type='LoadRGBImage', key='gt'), dict(type='PackInputs')]))
''')
    wide = tmp_path / 'wide.pth'
    torch.save(dict(state_dict=tiny_model(mid=16).state_dict()), wide)
    res = run_tool(tmp_path, 'test.py', cfg, wide, '--work-dir', tmp_path / 't')
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    assert f'error: checkpoint={wide}: another architecture' in res.stderr
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), good)
    (tmp_path / 'testset' / 'target' / '1.png').write_text('<html>not a picture</html>')
    res = run_tool(tmp_path, 'test.py', cfg, good, '--work-dir', tmp_path / 't')
    assert res.returncode == 2 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    assert f'error: {tmp_path / "testset" / "target" / "1.png"}: not a decodable' in res.stderr
