"""Building mmengine Runners for the plugin's tools (train/test), MMagic style.

Before the Runner starts, :func:`build_runner` checks what would otherwise fail late or
silently, with one-line errors naming the config key or the file: the config
(:func:`~.config_checks.validate_config`) and the checkpoint to resume from, start from
or test (:func:`~.checkpoint_checks.check_checkpoint`,
:func:`~.checkpoint_checks.find_resume_checkpoint`).

Checkpoints are loaded weights-only (:mod:`nlcl_plugin.checkpoint_safety`), by the check
and by the Runner itself; ``trust_checkpoint`` (``--trust-checkpoint``, the config key
``trust_checkpoint = True`` or ``NLCL_TRUST_CHECKPOINT=1``) loads the checkpoint of
``--resume`` / ``load_from`` with full unpickling.
"""
import os.path as osp
import re
from typing import Optional, Union

import torch
from mmengine.config import Config

from ..checkpoint_safety import is_trusted, trust_file
from .checkpoint_checks import CheckpointError, check_checkpoint, find_resume_checkpoint
from .config_checks import ConfigError, validate_config

__all__ = [
    'AMP_CHOICES', 'COMPILE_MODES', 'CheckpointError', 'ConfigError', 'amp_precision',
    'build_runner', 'check_checkpoint', 'compile_options', 'error_line',
    'find_resume_checkpoint', 'load_config', 'validate_config'
]

#: ``amp`` precisions of :func:`build_runner` (``tools/train.py --amp [fp16|bf16]``).
AMP_CHOICES = ('fp16', 'bf16')

#: torch.compile's modes, for :func:`build_runner`'s ``compile`` (``--compile [MODE]``).
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def error_line(err: BaseException) -> str:
    """The one line the tools print for an expected error.

    An error re-raised from a dataloader worker carries the worker's traceback; its last
    line (``module.ErrorType: message``) is the original message.
    """
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    match = re.match(r'^[\w.]*(Error|Exception): (.*)$', lines[-1])
    if len(lines) > 1 and match:
        return match.group(2)
    return ' '.join(line.strip() for line in lines)


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
                 amp: Union[bool, str] = False,
                 auto_scale_lr: bool = False,
                 load_from: Optional[str] = None,
                 load_purpose: str = 'load',
                 trust_checkpoint: bool = False,
                 compile: Union[None, bool, str, dict] = None):
    """A Runner for ``config`` with the command-line overrides of ``tools/*.py``.

    Args:
        resume: None (no resume), 'auto' (latest complete checkpoint of the work dir,
            see :func:`find_resume_checkpoint`) or a path.
        amp: Mixed precision with mmengine's ``AmpOptimWrapper``: ``'fp16'`` (CUDA;
            dynamic loss scaling), ``'bf16'`` (CPU, or a GPU with bf16 support; no loss
            scaling: bf16 has float32's range), True (fp16 on CUDA, bf16 on CPU) or False.
        compile: ``torch.compile`` of the training step through mmengine's own config key
            ``compile`` (see :func:`compile_options`): a mode of :data:`COMPILE_MODES`, True
            (the device's default mode), a dict of ``torch.compile`` arguments, or None
            (leave the config's ``compile`` as it is).
        load_from: Weights to start from (``tools/test.py``: the checkpoint to test).
        load_purpose: How strictly ``load_from`` must match the model: ``'load'``
            (training from these weights: every weight present must fit, missing ones
            are a warning) or ``'test'`` (the generator's weights must all be there).
        trust_checkpoint: Load the checkpoint of ``--resume`` / ``load_from`` with full
            unpickling, in the check and in the Runner (``--trust-checkpoint``; also the
            config key ``trust_checkpoint = True``). By default it is loaded weights-only.

    Raises:
        ConfigError: A config value is wrong (the message names the key).
        CheckpointError: The checkpoint to resume from / load is missing, unreadable or
            of another architecture (the message names the file).
    """
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    validate_config(cfg)
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
        _enable_amp(cfg, amp_precision(amp))
    if compile is not None:
        cfg.compile = compile_options(compile)
    if auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    label = 'load_from'
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        cfg.resume = True
        cfg.load_from = resume
        label = '--resume'
    if load_from:
        cfg.load_from = load_from
        label = 'checkpoint' if load_purpose == 'test' else 'load_from'
    if cfg.get('resume') and not cfg.get('load_from'):
        # mmengine would read last_checkpoint as is (an empty file means "start afresh")
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        label = 'last checkpoint of the work dir'
    elif cfg.get('resume') and label == 'load_from':
        label = 'load_from (resume=True)'
    if cfg.get('load_from') and (trust_checkpoint or cfg.get('trust_checkpoint', False)):
        trust_file(cfg.load_from)  # for the check below and for the Runner's own load
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        purpose = 'resume' if cfg.get('resume') else load_purpose
        check_checkpoint(cfg.load_from, runner.model, purpose=purpose, label=label,
                         trust=is_trusted(cfg.load_from))
    return runner


def amp_precision(amp: Union[bool, str], cuda: Optional[bool] = None) -> Optional[str]:
    """``'fp16'``, ``'bf16'`` or None (no AMP) for :func:`build_runner`'s ``amp``.

    True means fp16 on CUDA and bf16 on CPU (CPU autocast runs bf16 only).

    Raises:
        ConfigError: An unknown precision; fp16 without CUDA; bf16 on a GPU without bf16
            support.
    """
    if amp is None or amp is False:
        return None
    if cuda is None:
        cuda = torch.cuda.is_available()
    if amp is True:
        return 'fp16' if cuda else 'bf16'
    if amp not in AMP_CHOICES:
        raise ConfigError(f'--amp: expected one of {", ".join(AMP_CHOICES)}, got {amp!r}')
    if amp == 'fp16' and not cuda:
        raise ConfigError('--amp fp16 needs a CUDA device (CPU autocast runs bf16 only); '
                          'use --amp bf16')
    if amp == 'bf16' and cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError(f'--amp bf16: {torch.cuda.get_device_name()} has no bf16 support; '
                          'use --amp fp16')
    return amp


def compile_options(compile: Union[bool, str, dict],
                    cuda: Optional[bool] = None) -> Optional[dict]:
    """mmengine's ``compile`` config value for :func:`build_runner`'s ``compile``.

    mmengine's Runner compiles ``model.train_step`` with ``torch.compile(train_step,
    **compile)`` once the model is wrapped (``Runner._maybe_compile``): NLCL's own step
    (data preprocessing, both generators, the samplers' top-k, the losses, both
    optimiser updates) is traced as a whole, split where it leaves the graph (the
    backward passes, the optimiser steps, the iteration counter read as a Python int).
    True or ``'auto'`` picks ``'reduce-overhead'`` on CUDA (CUDA graphs: the captured
    parts replay with one launch each) and ``'default'`` on CPU; shapes are static
    (``dynamic=False``: fixed crop and batch sizes) unless the dict says otherwise.
    False gives None (no compile).
    """
    if compile is False:
        return None
    if cuda is None:
        cuda = torch.cuda.is_available()
    if compile is True or compile == 'auto':
        compile = 'reduce-overhead' if cuda else 'default'
    if isinstance(compile, str):
        if compile not in COMPILE_MODES:
            raise ConfigError(f'--compile: expected one of {", ".join(COMPILE_MODES)}, got '
                              f'{compile!r}')
        compile = dict(mode=compile)
    if not isinstance(compile, dict):
        raise ConfigError(f'compile: expected a mode, True or a dict of torch.compile '
                          f'arguments, got {compile!r}')
    out = dict(compile)
    out.setdefault('dynamic', False)
    return out


def _enable_amp(cfg: Config, precision: str) -> None:
    ow = cfg.optim_wrapper
    wrappers = [ow] if 'type' in ow and 'constructor' not in ow else [
        v for v in ow.values() if isinstance(v, dict) and 'optimizer' in v
    ]
    for w in wrappers:
        if w.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs OptimWrapper, got {w.get("type")}')
        w['type'] = 'AmpOptimWrapper'
        if precision == 'fp16':
            w['loss_scale'] = 'dynamic'
            w['dtype'] = 'float16'
        else:
            # bf16 has float32's exponent range: no loss scaling (a disabled GradScaler
            # passes the loss and the optimiser step through)
            w['loss_scale'] = dict(enabled=False)
            w['dtype'] = 'bfloat16'


