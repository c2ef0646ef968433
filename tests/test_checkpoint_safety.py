"""Checkpoints cannot run code: every load path of the project is weights-only.

References: a crafted checkpoint whose unpickling runs ``touch MARKER`` (``os.system``)
or writes a file through a method the allow-list's ``getattr`` reaches
(``numpy.ndarray.tofile``); it is shown to create its file when unpickled in full, and
then must not create it through any tool. The allow-list itself is checked against the
globals that real checkpoints need (``tests/test_configs_and_tools.py``,
``tests/test_basicsr_adapter.py``) with :func:`weights_only_needs`.
"""
import importlib
import importlib.util
import os
import os.path as osp
import pickle
import re
import shlex
import sys

import cv2
import numpy as np
import pytest
import torch

from nlcl_plugin.checkpoint_safety import (TRUST_ENV, UntrustedCheckpointError,
                                           load_checkpoint_file)
from nlcl_plugin.models.checkpoint import CheckpointError

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS = osp.join(REPO, 'tools')
DEMO = osp.join(REPO, 'configs', 'nlcl_demo.py')
DEMO_YML = osp.join(REPO, 'configs', 'basicsr', 'nlcl_demo.yml')
RELEASED = osp.join(REPO, 'model_zoo', 'nlcl_demo_s2022', 'nlcl_demo_s2022.pth')
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


# --------------------------------------------------------------------------- helpers
class RunsCommand:
    """Unpickling it runs ``touch MARKER`` through ``os.system``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {shlex.quote(self.marker)}', )


class WritesThroughGetattr:
    """Unpickling it calls ``numpy.ndarray.tofile(array, MARKER)``: pickled as
    ``getattr(numpy.ndarray, 'tofile')``, both of which the allow-list holds; the
    weights-only unpickler must still refuse to call what ``getattr`` returns."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return np.ndarray.tofile, (np.zeros(1), self.marker)


class Note:
    """A harmless object outside the allow-list (the test double for a foreign type)."""

    def __init__(self, text):
        self.text = text


def crafted(tmp_path, name='evil.pth', payload=RunsCommand, legacy=False):
    """(file, marker): a checkpoint with generator-like weights and ``payload(marker)``."""
    path, marker = tmp_path / name, tmp_path / f'{name}.ran'
    state = {'state_dict': {'generator.layers.0.weight': torch.zeros(32, 3, 3, 3)},
             'meta': {'iter': 2}, 'message_hub': {}, 'payload': payload(marker)}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return str(path), marker


def released_with_note(tmp_path):
    """The released model with a :class:`Note` in its ``meta``."""
    state = torch.load(RELEASED, map_location='cpu', weights_only=True)
    state['meta']['note'] = Note('from another tool')
    path = str(tmp_path / 'with_note.pth')
    torch.save(state, path)
    return path


def tool(name):
    """``tools/<name>.py`` as a module (by path: ``test`` is also a stdlib package)."""
    spec = importlib.util.spec_from_file_location(f'nlcl_tool_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_error_line(text):
    lines = [line for line in text.splitlines() if line.startswith('error:')]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


def assert_refused(line, path, offending='posix.system'):
    assert path in line and offending in line and '--trust-checkpoint' in line, line
    assert '\n' not in line


def weights_only_needs(path):
    """The globals a weights-only load of ``path`` needs beyond torch's defaults, found
    by loading it and adding what the unpickler names until it loads (an independent
    reference for :func:`allowed_globals`)."""
    needed = []
    while True:
        try:
            with torch.serialization.safe_globals(needed):
                torch.load(path, map_location='cpu', weights_only=True)
            return {f'{g.__module__}.{g.__qualname__}' for g in needed}
        except pickle.UnpicklingError as err:
            match = (re.search(r"but got <class '([^']+)'>", str(err))
                     or re.search(r'GLOBAL (\S+) was not an allowed global', str(err)))
            assert match, str(err)
            module, _, name = match.group(1).rpartition('.')
            needed.append(getattr(importlib.import_module(module or 'builtins'), name))


@pytest.fixture()
def photo(tmp_path):
    path = str(tmp_path / 'photo.png')
    cv2.imwrite(path, np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8))
    return path


# --------------------------------------------------------------------------- the loader
@pytest.mark.parametrize('payload', [RunsCommand, WritesThroughGetattr])
@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy-format'])
def test_crafted_file_is_refused_and_would_run_when_trusted(tmp_path, payload, legacy):
    path, marker = crafted(tmp_path, payload=payload, legacy=legacy)
    with pytest.raises(UntrustedCheckpointError) as err:
        load_checkpoint_file(path)
    assert not marker.exists()
    assert str(err.value).startswith(f'{path}: refused to load ')
    assert '--trust-checkpoint' in str(err.value) and '\n' not in str(err.value)
    # the offending global, or the method the unpickler refused to call
    assert ('posix.system' if payload is RunsCommand else "'tofile'") in str(err.value)
    # the reference: the file is a real threat, and trusting it unpickles in full
    load_checkpoint_file(path, trust=True)
    assert marker.exists()


def test_trust_from_the_environment(tmp_path, monkeypatch):
    path = released_with_note(tmp_path)
    with pytest.raises(UntrustedCheckpointError, match=r'refused to load .*Note'):
        load_checkpoint_file(path)
    monkeypatch.setenv(TRUST_ENV, '1')
    assert load_checkpoint_file(path)['meta']['note'].text == 'from another tool'


# --------------------------------------------------------------------------- every tool
def test_derain_refuses_the_crafted_file(tmp_path, photo, capsys):
    path, marker = crafted(tmp_path)
    assert tool('derain').main([photo, '--checkpoint', path, '--out-dir', str(tmp_path / 'o'),
                                '--no-progress', '--malloc', 'default', '--save-rain']) == 2
    assert not marker.exists()
    line = one_error_line(capsys.readouterr().err)
    assert_refused(line, path)
    assert not (tmp_path / 'o').exists()


def test_derain_refuses_a_crafted_rain_checkpoint(tmp_path, photo, capsys):
    path, marker = crafted(tmp_path)
    assert tool('derain').main([photo, '--checkpoint', RELEASED, '--rain-checkpoint', path,
                                '--out-dir', str(tmp_path / 'o'), '--save-rain', '--no-progress',
                                '--malloc', 'default']) == 2
    assert not marker.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def test_test_tool_refuses_the_crafted_file(tmp_path, capsys):
    path, marker = crafted(tmp_path)
    assert tool('test').main([DEMO, path, '--work-dir', str(tmp_path / 'w')]) == 2
    assert not marker.exists()
    line = one_error_line(capsys.readouterr().err)
    assert_refused(line, path)
    assert line.startswith(f'error: checkpoint={path}: ')


@pytest.mark.parametrize('how', ['--resume', 'load_from'])
def test_train_tool_refuses_the_crafted_file(tmp_path, capsys, how):
    path, marker = crafted(tmp_path)
    args = [DEMO, '--work-dir', str(tmp_path / 'w'), '--malloc', 'default']
    args += ['--resume', path] if how == '--resume' else ['--cfg-options', f'load_from={path}']
    assert tool('train').main(args) == 2
    assert not marker.exists()
    line = one_error_line(capsys.readouterr().err)
    assert_refused(line, path)
    assert line.startswith(f'error: {how}={path}: ')


def test_runner_loads_refuse_the_crafted_file(tmp_path):
    """mmengine's own loaders (after the pre-check): local files and URLs."""
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_http
    path, marker = crafted(tmp_path)
    with pytest.raises(UntrustedCheckpointError, match=re.escape(path)):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    url = f'file://{path}'  # urllib serves file:// like http://, without a network
    with pytest.raises(UntrustedCheckpointError, match=re.escape(url)):
        load_from_http(url, map_location='cpu', model_dir=str(tmp_path / 'hub'))
    assert (tmp_path / 'hub' / 'evil.pth').exists()  # downloaded, then refused
    assert not marker.exists()


def test_export_tool_refuses_the_crafted_file(tmp_path, capsys):
    path, marker = crafted(tmp_path)
    out = tmp_path / 'out.pth'
    assert tool('export_generators').main([path, str(out)]) == 2
    assert not marker.exists() and not out.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def test_convert_tool_refuses_the_crafted_file(tmp_path, capsys):
    path, marker = crafted(tmp_path)
    assert tool('convert_official_checkpoint').main([path, str(tmp_path / 'out.pth')]) == 2
    assert not marker.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def test_intrinsic_dim_tool_refuses_the_crafted_file(tmp_path, photo, capsys):
    path, marker = crafted(tmp_path)
    assert tool('intrinsic_dim').main([photo, '--checkpoint', path]) == 2
    assert not marker.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def _crafted_run(tmp_path):
    """A config of 2 iterations and a work dir whose iter_2.pth is crafted."""
    work = tmp_path / 'work'
    stamp = work / '20260101_000000'
    os.makedirs(stamp / 'vis_data')
    (stamp / '20260101_000000.log').write_text('the log\n')
    (stamp / 'vis_data' / 'scalars.json').write_text('{"loss_g": 1.0, "step": 2}\n')
    path, marker = crafted(work, 'iter_2.pth')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f'_base_ = [{DEMO!r}]\ntrain_cfg = dict(max_iters=2)\n'
                   f"test_dataloader = dict(dataset=dict(data_root={str(tmp_path / 'none')!r}))\n")
    return str(cfg), str(work), path, marker


def test_ship_model_tool_refuses_the_crafted_file(tmp_path, capsys):
    cfg, work, path, marker = _crafted_run(tmp_path)
    out = tmp_path / 'zoo'
    assert tool('ship_model').main([cfg, work, str(out), '--command', 'c']) == 2
    assert not marker.exists() and not out.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def test_training_diagnostics_tool_refuses_the_crafted_file(tmp_path, capsys, monkeypatch):
    cfg, work, path, marker = _crafted_run(tmp_path)
    diagnostics = tool('training_diagnostics')
    # no training crops needed: the checkpoint is read before any is used
    from nlcl_plugin.evaluation import diagnostics as computations
    monkeypatch.setattr(computations, 'fixed_batches', lambda *args: [])
    assert diagnostics.main([cfg, work]) == 2  # gradients: the model's load
    assert_refused(one_error_line(capsys.readouterr().err), path)
    assert diagnostics.main([cfg, work, '--no-gradients']) == 2  # raw G_B's scores
    assert_refused(one_error_line(capsys.readouterr().err), path)
    assert not marker.exists()


def test_basicsr_tool_refuses_a_crafted_training_state(tmp_path, capsys, monkeypatch):
    pytest.importorskip('basicsr')
    path, marker = crafted(tmp_path, '2.state')
    monkeypatch.setattr(sys, 'argv', ['basicsr_train.py'])  # the tool rewrites it
    monkeypatch.chdir(tmp_path)
    assert tool('basicsr_train').main([
        '-opt', DEMO_YML, '--root', str(tmp_path), '--malloc', 'default', '--force_yml',
        f'path:resume_state={path}']) == 2
    assert not marker.exists()
    assert_refused(one_error_line(capsys.readouterr().err), path)


def test_basicsr_model_refuses_a_crafted_pretrained_network(tmp_path):
    pytest.importorskip('basicsr')
    import nlcl_plugin.basicsr  # noqa: F401
    from basicsr.models import build_model

    from test_basicsr_adapter import tiny_opt
    path, marker = crafted(tmp_path, 'net_g.pth')
    opt = tiny_opt()
    opt['path'] = {'pretrain_network_g': path}
    with pytest.raises(UntrustedCheckpointError, match=re.escape(path)):
        build_model(opt)
    assert not marker.exists()


# --------------------------------------------------------------------------- the way out
def test_trust_flag_loads_a_foreign_object_in_the_tools(tmp_path, photo, capsys):
    path = released_with_note(tmp_path)
    derain = tool('derain')
    args = [photo, '--checkpoint', path, '--out-dir', str(tmp_path / 'o'), '--no-progress',
            '--malloc', 'default']
    assert derain.main(args) == 2
    assert_refused(one_error_line(capsys.readouterr().err), path, offending='Note')
    assert derain.main(args + ['--trust-checkpoint']) == 0
    assert (tmp_path / 'o' / 'photo.png').exists()
    export = tool('export_generators')
    out = tmp_path / 'out.pth'
    assert export.main([path, str(out)]) == 2
    assert_refused(one_error_line(capsys.readouterr().err), path, offending='Note')
    assert export.main([path, str(out), '--trust-checkpoint']) == 0
    assert load_checkpoint_file(str(out))['state_dict'].keys() == torch.load(
        RELEASED, weights_only=True)['state_dict'].keys()


@pytest.mark.parametrize('trust', ['argument', 'config', 'environment'])
def test_trust_option_loads_a_foreign_object_in_the_runner(tmp_path, monkeypatch, trust):
    from nlcl_plugin.mmagic.runner_utils import build_runner
    path = released_with_note(tmp_path)
    options = dict(train_dataloader=None, train_cfg=None, optim_wrapper=None,
                   param_scheduler=None)
    with pytest.raises(CheckpointError) as err:
        build_runner(DEMO, work_dir=str(tmp_path / 'w0'), cfg_options=options,
                     load_from=path, load_purpose='test')
    assert_refused(str(err.value), path, offending='Note')
    assert str(err.value).startswith(f'checkpoint={path}: ')
    kwargs = {}
    if trust == 'argument':
        kwargs['trust_checkpoint'] = True
    elif trust == 'config':
        options['trust_checkpoint'] = True
    else:
        monkeypatch.setenv(TRUST_ENV, 'true')
    runner = build_runner(DEMO, work_dir=str(tmp_path / 'w1'), cfg_options=options,
                          load_from=path, load_purpose='test', **kwargs)
    ckpt = runner.load_checkpoint(path)  # the Runner's own load, as its test loop does
    assert ckpt['meta']['note'].text == 'from another tool'
    expected = torch.load(RELEASED, weights_only=True)['state_dict']
    for key, value in runner.model.generator.state_dict().items():
        assert torch.equal(value, expected[f'generator.{key}']), key


# --------------------------------------------------------------------------- the released model
def test_released_model_loads_weights_only_in_every_tool(tmp_path, photo, capsys):
    from nlcl_plugin.mmagic.runner_utils import build_runner
    assert weights_only_needs(RELEASED) == set()
    expected = torch.load(RELEASED, map_location='cpu', weights_only=True)['state_dict']
    # derain (and Derainer, as demo_report / intrinsic_dim / ship_model use it)
    assert tool('derain').main([photo, '--checkpoint', RELEASED, '--out-dir',
                                str(tmp_path / 'o'), '--save-rain', '--no-progress',
                                '--malloc', 'default']) == 0
    assert (tmp_path / 'o' / 'photo_rain.png').exists()
    # export
    out = tmp_path / 'again.pth'
    assert tool('export_generators').main([RELEASED, str(out)]) == 0
    again = load_checkpoint_file(str(out))['state_dict']
    assert again.keys() == expected.keys()
    assert all(torch.equal(again[k], expected[k]) for k in expected)
    # test.py / load_from: the pre-check and the Runner's own load
    for purpose in ('test', 'load'):
        runner = build_runner(DEMO, work_dir=str(tmp_path / purpose), load_from=RELEASED,
                              load_purpose=purpose,
                              cfg_options=dict(train_dataloader=None, train_cfg=None,
                                               optim_wrapper=None, param_scheduler=None))
        runner.load_checkpoint(RELEASED)
        for key, value in runner.model.generator.state_dict().items():
            assert torch.equal(value, expected[f'generator.{key}']), key
    assert 'error:' not in capsys.readouterr().err
