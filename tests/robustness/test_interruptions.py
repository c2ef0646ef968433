"""Interrupted training: checkpoints are written atomically and ``--resume`` continues
from the last complete one, also after ``kill -9``."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import uuid

import pytest
import torch
from mmengine.logging import MessageHub, MMLogger

import nlcl_plugin.mmagic  # noqa: F401
from nlcl_plugin.mmagic.hooks import AtomicCheckpointHook
from nlcl_plugin.mmagic.hooks.atomic_checkpoint_hook import atomic_write_text
from nlcl_plugin.mmagic.runner_utils import CheckpointError, find_resume_checkpoint

from rb_helpers import REPO, make_unpaired, run_tool, tool_env, train_config


class FakeRunner:
    """What CheckpointHook uses of a Runner; ``fail`` makes the next save die half-way."""

    def __init__(self, work_dir):
        self.work_dir = str(work_dir)
        self.logger = MMLogger.get_instance(f'rb-{uuid.uuid4().hex}')
        self.message_hub = MessageHub.get_instance(f'rb-{uuid.uuid4().hex}')
        self.iter, self.epoch, self.fail = 0, 0, False

    def save_checkpoint(self, out_dir, filename, *args, meta=None, **kwargs):
        path = osp.join(out_dir, filename)
        if self.fail:
            with open(path, 'wb') as f:
                f.write(b'PK\x03\x04 half a checkpoint')
            raise KeyboardInterrupt('killed while writing')
        torch.save(dict(meta=meta, state_dict={'w': torch.tensor([float(self.iter)])}), path)


def saved(path):
    return torch.load(path, weights_only=False)['meta']['iter']


def test_a_save_that_dies_half_way_leaves_the_last_checkpoint_intact(tmp_path):
    runner = FakeRunner(tmp_path)
    hook = AtomicCheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=1)
    hook.before_train(runner)
    hook._save_checkpoint(runner)
    assert saved(tmp_path / 'iter_1.pth') == 1
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_1.pth')
    runner.iter, runner.fail = 1, True
    with pytest.raises(KeyboardInterrupt):
        hook._save_checkpoint(runner)
    # mmengine's CheckpointHook would have deleted iter_1.pth (max_keep_ckpts=1) first and
    # written iter_2.pth in place; here the old one stays and nothing half-written remains
    assert saved(tmp_path / 'iter_1.pth') == 1
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_1.pth')
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'last_checkpoint']
    # next save: the new file is complete before the old one goes
    runner.fail = False
    hook._save_checkpoint(runner)
    assert sorted(os.listdir(tmp_path)) == ['iter_2.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    # temporary files of a killed run are removed at the next start
    (tmp_path / '.iter_3.pth.tmp-12345').write_bytes(b'partial')
    AtomicCheckpointHook(interval=1, by_epoch=False).before_train(runner)
    assert not glob.glob(str(tmp_path / '.*tmp*'))


def test_atomic_write_text(tmp_path):
    atomic_write_text(str(tmp_path / 'f'), 'one')
    atomic_write_text(str(tmp_path / 'f'), 'two')
    assert (tmp_path / 'f').read_text() == 'two' and os.listdir(tmp_path) == ['f']


def _ckpt(path, it):
    torch.save(dict(meta=dict(iter=it), state_dict={'w': torch.zeros(64)}), path)
    os.utime(path, (1000 + it, 1000 + it))  # mtime follows the iteration


def test_resume_picks_the_last_complete_checkpoint(tmp_path):
    assert find_resume_checkpoint(str(tmp_path)) is None  # nothing: start from scratch
    for it in (1, 2, 3):
        _ckpt(tmp_path / f'iter_{it}.pth', it)
    last = tmp_path / 'last_checkpoint'
    last.write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # killed while writing iter_3 (a non-atomic writer): truncated, last_checkpoint ahead
    data = (tmp_path / 'iter_3.pth').read_bytes()
    (tmp_path / 'iter_3.pth').write_bytes(data[:len(data) // 2])
    os.utime(tmp_path / 'iter_3.pth', (2000, 2000))
    last.write_text(str(tmp_path / 'iter_3.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # killed while rewriting last_checkpoint: empty
    last.write_text('')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # the work dir was moved: the recorded absolute path is gone, its name is here
    last.write_text('/elsewhere/iter_2.pth')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # nothing complete left
    for it in (1, 2):
        os.remove(tmp_path / f'iter_{it}.pth')
    with pytest.raises(CheckpointError, match='no complete checkpoint'):
        find_resume_checkpoint(str(tmp_path))


def _wait_for_checkpoint(work, proc, at_least, timeout=120):
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f'training ended early:\n{proc.stdout.read()[-3000:]}')
        try:
            name = open(work / 'last_checkpoint').read().strip()
        except OSError:
            name = ''
        if name and int(osp.basename(name)[5:-4]) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError('no checkpoint in time')


def test_kill_9_then_resume_continues_exactly(tmp_path):
    # images smaller than the crop: every one is padded (crop larger than the data)
    data = make_unpaired(tmp_path / 'data', n_rainy=3, n_clean=4, size=(20, 24))
    cfg = train_config(tmp_path, data)
    work = tmp_path / 'w'
    proc = subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), cfg, '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_iters=500'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(tmp_path),
        env=tool_env(tmp_path))
    try:
        _wait_for_checkpoint(work, proc, at_least=3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    # every checkpoint file present is complete and last_checkpoint names one of them
    last = open(work / 'last_checkpoint').read().strip()
    for path in glob.glob(str(work / 'iter_*.pth')):
        torch.load(path, map_location='cpu', weights_only=False)
    k = torch.load(last, map_location='cpu', weights_only=False)['meta']['iter']
    assert last == str(work / f'iter_{k}.pth') and k >= 3
    # what a kill during a (non-atomic) write of the next one would leave behind
    newer = work / f'iter_{k + 1}.pth'
    data_k = open(last, 'rb').read()
    newer.write_bytes(data_k[:len(data_k) // 3])
    (work / 'last_checkpoint').write_text(str(newer))
    (work / f'.iter_{k + 1}.pth.tmp-99999').write_bytes(data_k[:100])

    res = run_tool(tmp_path, 'train.py', cfg, '--work-dir', work, '--resume',
                   '--cfg-options', f'train_cfg.max_iters={k + 2}')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert f'is incomplete or missing (interrupted save?); resuming from {last}' in out
    assert f'Iter(train) [{k + 1}/{k + 2}]' in out and f'Iter(train) [{k}/' not in out
    assert not glob.glob(str(work / '.*tmp*'))
    resumed = torch.load(work / f'iter_{k + 2}.pth', map_location='cpu', weights_only=False)
    assert resumed['meta']['iter'] == k + 2
    assert open(work / 'last_checkpoint').read().strip() == str(work / f'iter_{k + 2}.pth')

    # the same number of iterations without interruption gives the same weights
    ref = run_tool(tmp_path, 'train.py', cfg, '--work-dir', tmp_path / 'ref',
                   '--cfg-options', f'train_cfg.max_iters={k + 2}')
    assert ref.returncode == 0, ref.stderr[-3000:]
    want = torch.load(tmp_path / 'ref' / f'iter_{k + 2}.pth', map_location='cpu',
                      weights_only=False)['state_dict']
    for key, v in want.items():
        got = resumed['state_dict'][key]
        if key.endswith('bias'):  # see tests/test_configs_and_tools.py
            assert float((got.float() - v.float()).abs().max()) <= 2.5e-4, key
        else:
            torch.testing.assert_close(got, v, rtol=1e-4, atol=1e-5, msg=key)
