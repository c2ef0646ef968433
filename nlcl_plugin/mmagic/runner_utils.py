"""Building mmengine Runners for the plugin's tools (train/test), MMagic style.

Before the Runner starts, :func:`build_runner` checks what would otherwise fail late or
silently, with one-line errors naming the config key or the file:

* :func:`validate_config`: every ``type`` of the model, its losses, the dataset
  pipelines and the hooks is registered, and no option is unknown to the class it is
  passed to (a typo in ``model.objective`` or a loss name would otherwise surface as a
  ``TypeError`` deep in the build, or be ignored); NLCL's patch-group sizes ``k`` fit the
  training crop (:func:`nlcl_plugin.models.sampler.check_sampler_config`);
* :func:`check_checkpoint`: ``--resume`` / ``load_from`` / the test checkpoint is a
  readable PyTorch file that holds this model's weights with the right shapes. mmengine
  loads with ``strict=False`` and only *warns* about missing keys, so a checkpoint of
  another architecture would otherwise "load" and train or evaluate random weights;
* :func:`find_resume_checkpoint`: ``--resume`` without a path takes the checkpoint named
  in the work dir's ``last_checkpoint`` when it is complete, else the newest complete
  ``iter_*.pth`` / ``epoch_*.pth`` (with a warning), instead of failing on or silently
  ignoring a damaged one.

A crop larger than the images is *not* an error: ``RandomCropOrPad`` pads (see its
documentation).
"""
import difflib
import glob
import inspect
import logging
import os
import os.path as osp
import re
import zipfile
from typing import Iterable, List, Optional, Tuple

import torch
from mmengine.config import Config

from ..models.checkpoint import CheckpointError

__all__ = [
    'CheckpointError', 'ConfigError', 'build_runner', 'check_checkpoint', 'error_line',
    'find_resume_checkpoint', 'load_config', 'validate_config'
]


class ConfigError(ValueError):
    """A config value is wrong; the message names the config key."""


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
                 amp: bool = False,
                 auto_scale_lr: bool = False,
                 load_from: Optional[str] = None,
                 load_purpose: str = 'load'):
    """A Runner for ``config`` with the command-line overrides of ``tools/*.py``.

    Args:
        resume: None (no resume), 'auto' (latest complete checkpoint of the work dir,
            see :func:`find_resume_checkpoint`) or a path.
        load_from: Weights to start from (``tools/test.py``: the checkpoint to test).
        load_purpose: How strictly ``load_from`` must match the model: ``'load'``
            (training from these weights: every weight present must fit, missing ones
            are a warning) or ``'test'`` (the generator's weights must all be there).

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
        _enable_amp(cfg)
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
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        purpose = 'resume' if cfg.get('resume') else load_purpose
        check_checkpoint(cfg.load_from, runner.model, purpose=purpose, label=label)
    return runner


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


# --------------------------------------------------------------------------- config checks
def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ''


def _registry_names(registry) -> List[str]:
    names, reg = [], registry
    while reg is not None:
        names += list(reg.module_dict)
        reg = reg.parent
    return names


def _init_params(obj) -> Optional[List[str]]:
    """Keyword names ``obj`` (class or function) accepts; None when it takes ``**kwargs``."""
    try:
        sig = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name != 'self']
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _check_keys(options, allowed: List[str], key: str, owner: str, ignore=('type', )):
    unknown = [k for k in options if k not in allowed and k not in ignore]
    if unknown:
        bad = unknown[0]
        raise ConfigError(f'{key}.{bad}: unknown option of {owner}{_suggest(bad, allowed)}; '
                          f'its options are {", ".join(sorted(allowed))}')


def _check_component(cfg, key: str, registry, required: bool = True):
    """Check ``cfg['type']`` is registered and every option is accepted; the class or
    None (not a typed dict, or unresolved where ``required`` is False)."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        return None
    typ = cfg['type']
    if not isinstance(typ, str):
        cls = typ if callable(typ) else None
    else:
        cls = registry.get(typ)
    if cls is None:
        if not required:
            return None
        raise ConfigError(f'{key}.type={typ!r} is not a registered {registry.name} in '
                          f'scope {registry.scope!r}{_suggest(typ, _registry_names(registry))}')
    allowed = _init_params(cls)
    if allowed is not None:
        _check_keys(cfg, allowed, key, getattr(cls, '__name__', str(typ)))
    return cls


def _loaders(cfg, name: str) -> List[Tuple[str, dict]]:
    loader = cfg.get(name)
    if isinstance(loader, dict):
        return [(name, loader)]
    if isinstance(loader, (list, tuple)):
        return [(f'{name}.{i}', x) for i, x in enumerate(loader) if isinstance(x, dict)]
    return []


def _train_crop(cfg) -> Optional[Tuple[str, object]]:
    """(config key, crop_size) of the training crop transform, if any."""
    for name, loader in _loaders(cfg, 'train_dataloader'):
        dataset, key = loader.get('dataset'), f'{name}.dataset'
        while isinstance(dataset, dict) and 'pipeline' not in dataset and 'dataset' in dataset:
            dataset, key = dataset['dataset'], f'{key}.dataset'  # dataset wrappers
        for i, t in enumerate((dataset or {}).get('pipeline') or []):
            if isinstance(t, dict) and 'crop_size' in t:
                return f'{key}.pipeline.{i}.crop_size', t['crop_size']
    return None


def _check_nlcl(cfg, model_cfg) -> None:
    from ..models.objective import NLCLObjective
    from ..models.sampler import SAMPLING_MODES, check_sampler_config
    injected = ('gan_loss', 'layer_loss', 'loc_loss', 'consistency_loss', 'sparsity_loss')
    defaults = {n: p.default for n, p in inspect.signature(NLCLObjective).parameters.items()
                if n not in injected}
    objective = dict(model_cfg.get('objective') or {})
    _check_keys(objective, list(defaults), 'model.objective', 'NLCLObjective', ignore=())
    _check_keys(dict(model_cfg.get('train_cfg') or {}), ['disc_steps', 'disc_init_steps'],
                'model.train_cfg', "NLCL's train_cfg", ignore=())
    merged = {**defaults, **objective}
    for mode_key in ('loc_neg_sampling', 'layer_sampling'):
        if merged[mode_key] not in SAMPLING_MODES:
            raise ConfigError(f'model.objective.{mode_key}={merged[mode_key]!r} must be one '
                              f'of {SAMPLING_MODES}')
    crop = _train_crop(cfg)
    if crop is None:
        return
    crop_key, crop_size = crop
    p, s = merged['patch_size'], merged['search_size']
    for k_key, mode_key in (('num_loc_patches', 'loc_neg_sampling'),
                            ('num_bg_patches', 'layer_sampling'),
                            ('num_rain_patches', 'layer_sampling')):
        k = merged[k_key] if merged[mode_key] != 'random' else 1  # random: sizes only
        try:
            check_sampler_config(k, p, s, tuple(crop_size) if isinstance(crop_size, (list, tuple))
                                 else crop_size)
        except (ValueError, TypeError) as err:
            raise ConfigError(
                f'model.objective.{k_key}={merged[k_key]} with patch_size={p}, '
                f'search_size={s} does not fit the training crop {crop_key}={crop_size}: '
                f'{" ".join(str(err).split())}') from err


def validate_config(cfg: Config) -> None:
    """Check the model, dataset pipelines and hooks of ``cfg`` (see the module docstring).

    Raises:
        ConfigError: The first problem found, naming its config key.
    """
    from mmengine.registry import DefaultScope

    from mmagic.registry import DATASETS, HOOKS, MODELS, TRANSFORMS
    scope = cfg.get('default_scope') or 'mmagic'
    with DefaultScope.overwrite_default_scope(scope):
        model_cfg = cfg.get('model')
        model_cls = _check_component(model_cfg, 'model', MODELS)
        if isinstance(model_cfg, dict):
            for k, v in model_cfg.items():
                if k != 'init_cfg':
                    _check_component(v, f'model.{k}', MODELS)
        from .nlcl import NLCL
        if inspect.isclass(model_cls) and issubclass(model_cls, NLCL):
            _check_nlcl(cfg, model_cfg)
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            for key, loader in _loaders(cfg, name):
                dataset = loader.get('dataset')
                _check_component(dataset, f'{key}.dataset', DATASETS)
                for i, t in enumerate((dataset or {}).get('pipeline') or []):
                    _check_component(t, f'{key}.dataset.pipeline.{i}', TRANSFORMS)
        for name, hook in (cfg.get('default_hooks') or {}).items():
            _check_component(hook, f'default_hooks.{name}', HOOKS)
        for i, hook in enumerate(cfg.get('custom_hooks') or []):
            _check_component(hook, f'custom_hooks.{i}', HOOKS)


# --------------------------------------------------------------------------- checkpoints
def _plain(key: str) -> str:
    """Key without DDP ``module.`` levels ('generator.module.x' -> 'generator.x')."""
    return re.sub(r'(^|\.)module\.', r'\1', key)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f'{type(err).__name__}: {text.splitlines()[0] if text else ""}'


def _is_complete(path: str) -> bool:
    """A torch checkpoint file that was written to the end (zip directory present and
    every member's checksum right)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return bool(zf.namelist()) and zf.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, RuntimeError):
        return False


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (auto) continues from; None when there is none.

    The file named in ``<work_dir>/last_checkpoint`` when it is complete; otherwise
    (file missing, empty, naming a truncated or missing checkpoint) the most recently
    written complete ``iter_*.pth`` / ``epoch_*.pth`` of the work dir, with a warning.

    Raises:
        CheckpointError: Checkpoints exist but none is complete.
    """
    from mmengine.logging import print_log
    last_file = osp.join(work_dir, 'last_checkpoint')
    recorded = None
    if osp.isfile(last_file):
        with open(last_file) as f:
            recorded = f.read().strip() or None
    candidates = []
    if recorded:
        candidates += [recorded, osp.join(work_dir, osp.basename(recorded))]
    found = [p for p in glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
             if re.fullmatch(r'(iter|epoch)_\d+\.pth', osp.basename(p))]
    candidates += sorted(found, key=lambda p: (os.path.getmtime(p),
                                               int(re.findall(r'\d+', osp.basename(p))[0])),
                         reverse=True)
    damaged = []
    for path in dict.fromkeys(candidates):
        if osp.isfile(path) and _is_complete(path):
            if recorded is None and found:
                print_log(f'resume: {last_file} is missing or empty; resuming from the '
                          f'newest complete checkpoint {path}', logger='current',
                          level=logging.WARNING)
            elif recorded is not None and path not in candidates[:2]:
                print_log(f'resume: the last checkpoint {recorded} is incomplete or missing '
                          f'(interrupted save?); resuming from {path}, the newest complete '
                          'one', logger='current', level=logging.WARNING)
            return path
        if osp.exists(path):
            damaged.append(path)
    if damaged:
        raise CheckpointError(f'cannot resume in {work_dir}: no complete checkpoint '
                              f'(damaged: {", ".join(damaged)})')
    if recorded:
        raise CheckpointError(f'cannot resume: {last_file} names {recorded}, which does not '
                              'exist, and the work dir holds no other checkpoint')
    print_log(f'resume: no checkpoint in {work_dir}; training starts from scratch',
              logger='current', level=logging.WARNING)
    return None


def check_checkpoint(path: str, model: torch.nn.Module, purpose: str = 'load',
                     label: str = 'load_from') -> dict:
    """Check that ``path`` is a readable checkpoint holding ``model``'s weights.

    Args:
        path (str): Checkpoint file (local).
        model (nn.Module): The model (wrappers are looked through).
        purpose (str): ``'resume'`` (every weight, plus mmengine's ``meta`` and message
            hub), ``'test'`` (every weight of ``generator``), or ``'load'`` (weights
            present must fit; missing ones are only logged).
        label (str): What the file is, for messages (a config key or an argument).

    Returns:
        dict: The loaded checkpoint.

    Raises:
        CheckpointError: One line naming ``label`` and the file.
    """
    from mmengine.logging import print_log
    from mmengine.model import is_model_wrapper
    if purpose not in ('resume', 'load', 'test'):
        raise ValueError(f"purpose must be 'resume', 'load' or 'test', got {purpose!r}")
    if '://' in str(path):  # remote: mmengine's loader reports its own errors
        return {}
    where = f'{label}={path}'
    if not osp.isfile(path):
        raise CheckpointError(f'{where}: checkpoint file not found')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as err:  # truncated zip, pickle error, not a torch file
        raise CheckpointError(f'{where}: cannot read the checkpoint ({_first_line(err)}); '
                              'the file is truncated, damaged or not a PyTorch checkpoint'
                              ) from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{where}: not a checkpoint (holds a {type(ckpt).__name__})')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not any(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f'{where}: holds no weights (no state_dict of tensors)')
    model = model.module if is_model_wrapper(model) else model
    theirs = {_plain(k): v for k, v in state.items() if torch.is_tensor(v)}
    ours = {_plain(k): v for k, v in model.state_dict().items()}
    name = type(model).__name__
    common = [k for k in ours if k in theirs]
    if not common:
        hint = ''
        if any(k.startswith('gen.') for k in theirs):
            hint = ('; it is an official generator file: convert it with '
                    'tools/convert_official_checkpoint.py')
        raise CheckpointError(
            f'{where}: holds none of the weights of {name} (its keys look like '
            f'{", ".join(list(theirs)[:2])}; {name} expects e.g. '
            f'{", ".join(list(ours)[:2])}){hint}')
    shapes = [k for k in common if tuple(theirs[k].shape) != tuple(ours[k].shape)]
    if shapes:
        k = shapes[0]
        raise CheckpointError(
            f'{where}: another architecture: {len(shapes)} weight(s) of {name} have another '
            f'shape, e.g. {k} is {tuple(theirs[k].shape)} in the file and '
            f'{tuple(ours[k].shape)} in the model')
    missing = [k for k in ours if k not in theirs]
    if purpose == 'resume':
        required = missing
    elif purpose == 'test':
        required = [k for k in missing if k.startswith('generator.')]
    else:
        required = []
    if required:
        raise CheckpointError(
            f'{where}: {len(required)} of the {len(ours)} weights of {name} are missing '
            f'(another architecture or a partial file), e.g. {required[0]}')
    if purpose == 'resume':
        meta = ckpt.get('meta')
        if not isinstance(meta, dict) or 'iter' not in meta or 'message_hub' not in ckpt:
            raise CheckpointError(
                f'{where}: not a training checkpoint (no meta/iter or message_hub) and '
                'cannot be resumed; start from its weights with load_from instead')
    if missing:
        print_log(f'{where}: {len(missing)} weight(s) of {name} are not in the file and '
                  f'keep their initial values, e.g. {missing[0]}', logger='current',
                  level=logging.WARNING)
    return ckpt
