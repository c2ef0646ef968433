"""tools/dist_train.sh: two CPU processes (gloo) train on different data, stay identical."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

DUMP_HOOK = '''
import os.path as osp
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmagic.registry import HOOKS


@HOOKS.register_module()
class RankDumpHook(Hook):
    """Saves every rank's parameters and the rainy files it trained on."""

    def before_train(self, runner):
        self.seen = []
        self.initial = self._params(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen += [s.img_path for s in data_batch['data_samples']]

    @staticmethod
    def _params(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # per-network DDP wrappers insert '.module.' into the names
        return {k.replace('.module.', '.'): v.detach().clone()
                for k, v in model.state_dict().items()}

    def after_train(self, runner):
        torch.save(dict(params=self._params(runner), initial=self.initial, seen=self.seen),
                   osp.join(runner.work_dir, f'rank{get_rank()}.pt'))
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes_keep_ranks_identical(tmp_path):
    (tmp_path / 'rank_dump.py').write_text(DUMP_HOOK)
    (tmp_path / 'cfg.py').write_text(
        f"_base_ = ['{REPO}/configs/nlcl_demo.py']\n"
        "custom_imports = dict(imports=['nlcl_plugin.mmagic', 'rank_dump'],\n"
        "                      allow_failed_imports=False)\n"
        # the moving averages (nlcl_demo.py) stay identical across ranks too
        "custom_hooks = [{{_base_.ema_hook}}, dict(type='RankDumpHook')]\n"
        # learned layer-loss heads: their gradients are averaged across ranks here too
        "model = dict(objective=dict(layer_heads='learned'),\n"
        "             train_cfg=dict(disc_init_steps=0))\n")
    work = tmp_path / 'w'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(tmp_path / 'cfg.py'), '2',
           '--work-dir', str(work), '--cfg-options', 'train_cfg.max_iters=3',
           'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
           'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
           f'train_dataloader.dataset.data_root={tmp_path}/demo',
           f'val_dataloader.dataset.data_root={tmp_path}/demo/test',
           f'test_dataloader.dataset.data_root={tmp_path}/demo/test',
           'train_dataloader.dataset.pipeline.2.crop_size=64']
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    assert (work / 'iter_3.pth').exists()
    r0 = torch.load(work / 'rank0.pt', weights_only=False)
    r1 = torch.load(work / 'rank1.pt', weights_only=False)
    # the ranks saw different images, yet every tensor (networks and heads) is identical
    assert r0['seen'] and r1['seen'] and r0['seen'] != r1['seen']
    assert r0['params'].keys() == r1['params'].keys()
    heads = [k for k in r0['params'] if k.startswith('objective.') and 'sampler' in k]
    assert heads, 'projection heads missing from the state dict'
    for k, v in r0['params'].items():
        assert torch.equal(v, r1['params'][k]), k
    # training moved the networks and the heads (identical is not untouched) ...
    for prefix in ('generator.', 'rain_generator.', 'discriminator.', 'objective.loc_sampler',
                   'objective.bg_sampler', 'objective.rain_sampler', 'generator_ema.',
                   'rain_generator_ema.'):
        keys = [k for k in r0['params'] if k.startswith(prefix) and r0['params'][k].is_floating_point()]
        assert keys, prefix
        assert any(not torch.equal(r0['params'][k], r0['initial'][k]) for k in keys), prefix
    # ... and the checkpoint holds exactly those weights
    ckpt = torch.load(work / 'iter_3.pth', weights_only=False)['state_dict']
    for k, v in ckpt.items():
        assert torch.equal(v, r0['params'][k]), k
