"""Shared helpers of the robustness tests: generated images, tiny training configs."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# A small NLCL (8-channel networks, small patch groups) so a training iteration on a
# 32x32 crop takes a fraction of a second on a CPU.
TINY_MODEL = '''
model = dict(
    generator=dict(type='DecompositionGenerator', mid_channels=8),
    rain_generator=dict(type='DecompositionGenerator', mid_channels=8),
    discriminator=dict(type='NLCLPatchDiscriminator', base_channels=8),
    objective=dict(num_loc_patches=16, num_bg_patches=4, num_rain_patches=8, patch_size=8,
                   search_size=12, embed_channels=16),
    train_cfg=dict(disc_init_steps=0))  # short runs: the generators step from iteration 1
'''


def write_rgb(path, h, w, seed=0):
    """A random 8-bit RGB PNG/JPEG of h x w; returns the RGB array."""
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1])
    return rgb


def truncated_png(path, h=24, w=24, seed=0):
    """A PNG cut in half: its signature is right, decoding fails."""
    ok, buf = cv2.imencode('.png', np.random.default_rng(seed).integers(
        0, 256, (h, w, 3), dtype=np.uint8))
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(str(path), 'wb') as f:
        f.write(buf.tobytes()[:len(buf) // 2])


def make_unpaired(root, n_rainy=3, n_clean=5, size=(40, 44)):
    """root/train_rainy and root/train_clean with random images (uneven counts)."""
    for i in range(n_rainy):
        write_rgb(osp.join(root, 'train_rainy', f'r{i}.png'), *size, seed=i)
    for i in range(n_clean):
        write_rgb(osp.join(root, 'train_clean', f'c{i}.png'), *size, seed=100 + i)
    return str(root)


def make_paired(root, n=3, size=(36, 40)):
    """root/input and root/target with the same file names."""
    for i in range(n):
        write_rgb(osp.join(root, 'input', f'{i}.png'), *size, seed=200 + i)
        write_rgb(osp.join(root, 'target', f'{i}.png'), *size, seed=300 + i)
    return str(root)


def train_config(tmp_path, data_root, name='cfg.py', extra='', crop=32, val_root=None,
                 imports=()):
    """A config file training the tiny NLCL on ``data_root`` (no validation unless
    ``val_root``), one checkpoint per iteration, quiet visualisation."""
    val = 'val_dataloader = None\nval_cfg = None\nval_evaluator = None\n'
    if val_root is not None:
        val = (f"val_dataloader = dict(num_workers=0, dataset=dict(_delete_=True,\n"
               f"    type='CheckedImageDataset', data_root={str(val_root)!r},\n"
               "    metainfo=dict(dataset_type='paired_val', task_name='deraining'),\n"
               "    data_prefix=dict(img='input', gt='target'),\n"
               "    pipeline=[dict(type='LoadRGBImage', key='img'),\n"
               "              dict(type='LoadRGBImage', key='gt'), dict(type='PackInputs')]))\n")
    text = f'''_base_ = [{osp.join(REPO, 'configs', 'nlcl_demo.py')!r}]
custom_imports = dict(imports=['nlcl_plugin.mmagic', *{list(imports)!r}],
                      allow_failed_imports=False)
{TINY_MODEL}
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(
        _delete_=True, type='UnpairedRainDataset', data_root={str(data_root)!r},
        data_prefix=dict(rainy='train_rainy', clean='train_clean'),
        pipeline=[
            dict(type='LoadRGBImage', key='img', on_error='skip'),
            dict(type='LoadRGBImage', key='gt', on_error='skip'),
            dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size={crop}),
            dict(type='PackInputs')]))
{val}
train_cfg = dict(max_iters=3, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(_delete_=True, type='AtomicCheckpointHook', interval=1, by_epoch=False,
                    max_keep_ckpts=2, save_last=True))
custom_hooks = [{{{{_base_.ema_hook}}}}]  # the moving averages of nlcl_demo.py
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
{extra}
'''
    path = osp.join(str(tmp_path), name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def tool_env(tmp_path):
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                PYTHONPATH=f'{tmp_path}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')


def run_tool(tmp_path, tool, *args, timeout=300):
    """Run tools/<tool> in ``tmp_path``; CompletedProcess with text output."""
    cmd = [sys.executable, osp.join(REPO, 'tools', tool), *[str(a) for a in args]]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path),
                          env=tool_env(tmp_path), timeout=timeout)


# Hooks the training subprocesses import (custom_imports=['rb_hooks']): a NaN input
# batch at one iteration (optionally on one rank only), and a per-rank parameter dump.
RB_HOOKS = '''
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmagic.registry import HOOKS


def _bare(runner):
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


@HOOKS.register_module()
class InjectNaNHook(Hook):
    """Makes the normalised input batch NaN at iteration ``at_iter`` (0-based)."""
    priority = 'VERY_HIGH'

    def __init__(self, at_iter=1, rank=None):
        self.at_iter, self.rank = at_iter, rank

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter != self.at_iter or self.rank not in (None, get_rank()):
            return
        pre = _bare(runner).data_preprocessor
        original = pre.forward

        def forward(data, training=False):
            out = original(data, training)
            out['inputs'] = out['inputs'] * float('nan')
            del pre.forward  # once
            return out

        pre.forward = forward


@HOOKS.register_module()
class RankDumpHook(Hook):
    """Saves every rank's parameters and the rainy files it trained on."""

    def before_train(self, runner):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen += [s.img_path for s in data_batch['data_samples']]

    def after_train(self, runner):
        params = {k: v.detach().clone() for k, v in _bare(runner).state_dict().items()}
        torch.save(dict(params=params, seen=self.seen),
                   osp.join(runner.work_dir, f'rank{get_rank()}.pt'))
'''


def write_hooks(tmp_path):
    with open(osp.join(str(tmp_path), 'rb_hooks.py'), 'w') as f:
        f.write(RB_HOOKS)
