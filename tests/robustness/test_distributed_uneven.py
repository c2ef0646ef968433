"""Two CPU processes (gloo): uneven rainy/clean folders, sizes not divisible by the world
size, and a NaN on one rank only (both ranks skip the same update and stay identical)."""
import os.path as osp
import socket
import subprocess
import sys

import torch

from rb_helpers import REPO, make_paired, make_unpaired, tool_env, train_config, write_hooks


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_uneven_data_and_a_nan_on_one_rank(tmp_path):
    write_hooks(tmp_path)
    data = make_unpaired(tmp_path / 'data', n_rainy=3, n_clean=5, size=(20, 24))
    val = make_paired(tmp_path / 'val', n=3, size=(20, 24))  # 3 images on 2 ranks
    cfg = train_config(tmp_path, data, val_root=val, imports=['rb_hooks'], extra='''
custom_hooks = [{{_base_.ema_hook}}, dict(type='InjectNaNHook', at_iter=1, rank=1),
                dict(type='RankDumpHook')]
val_cfg = dict(type='AvailableSetsValLoop', skip_missing=False)
val_evaluator = dict(type='Evaluator', metrics=[dict(type='PSNR', convert_to='Y')])
''')
    work = tmp_path / 'w'
    env = dict(tool_env(tmp_path), PYTHON=sys.executable, PORT=str(_free_port()))
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), cfg, '2', '--work-dir', str(work),
           '--cfg-options', 'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
           'default_hooks.checkpoint.save_best=PSNR', 'default_hooks.checkpoint.rule=greater']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), env=env,
                         timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    # the NaN on rank 1 made rank 0 (whose log is shown) skip iteration 2's updates too
    assert 'non-finite loss on another rank at iteration 2 (this rank: loss_d=' in out, \
        out[-4000:]
    assert 'skipped the discriminator and generator update(s)' in out
    r0 = torch.load(work / 'rank0.pt', weights_only=False)
    r1 = torch.load(work / 'rank1.pt', weights_only=False)
    assert r0['seen'] and r1['seen'] and r0['seen'] != r1['seen']
    for k, v in r0['params'].items():
        assert torch.equal(v, r1['params'][k]), k
        assert torch.isfinite(v.float()).all(), k
    # validation over 3 images on 2 ranks ran; the checkpoints hold those weights
    assert 'PSNR' in out and (work / 'best_PSNR_iter_3.pth').exists()
    assert not list(work.glob('.*tmp*'))
    ckpt = torch.load(work / 'iter_3.pth', weights_only=False)['state_dict']
    for k, v in ckpt.items():
        assert torch.equal(v, r0['params'][k]), k
