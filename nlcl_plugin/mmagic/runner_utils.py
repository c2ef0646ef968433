"""Building mmengine Runners for the plugin's tools (train/test), MMagic style."""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config


def load_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config and merge ``--cfg-options``; errors name the file."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_runner(config: str,
                 work_dir: Optional[str] = None,
                 cfg_options: Optional[dict] = None,
                 launcher: str = 'none',
                 resume: Optional[str] = None,
                 amp: bool = False,
                 auto_scale_lr: bool = False,
                 load_from: Optional[str] = None):
    """A Runner for ``config`` with the command-line overrides of ``tools/*.py``.

    Args:
        resume: None (no resume), 'auto' (latest checkpoint of the work dir) or a path.
    """
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        # NCCL needs GPUs: several CPU processes talk over gloo.
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg') is not None:
            cfg.model_wrapper_cfg['device_ids'] = None  # CPU modules take no device ids
    if amp:
        _enable_amp(cfg)
    if auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        cfg.resume = True
        cfg.load_from = resume
    if load_from:
        cfg.load_from = load_from
    return Runner.from_cfg(cfg)


def _enable_amp(cfg: Config) -> None:
    ow = cfg.optim_wrapper
    wrappers = [ow] if 'type' in ow and 'constructor' not in ow else [
        v for v in ow.values() if isinstance(v, dict) and 'optimizer' in v
    ]
    for w in wrappers:
        if w.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs OptimWrapper, got {w.get("type")}')
        w['type'] = 'AmpOptimWrapper'
        w['loss_scale'] = 'dynamic'
