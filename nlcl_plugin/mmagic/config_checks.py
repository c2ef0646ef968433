"""Config checks run before a Runner is built (``tools/train.py``, ``tools/test.py``).

:func:`validate_config`: every ``type`` of the model, its losses, the dataset pipelines
and the hooks is registered, and no option is unknown to the class it is passed to (a
typo in ``model.objective`` or a loss name would otherwise surface as a ``TypeError``
deep in the build, or be ignored); NLCL's patch-group sizes ``k`` fit the training crop
(:func:`nlcl_plugin.models.sampler.check_sampler_config`). A crop larger than the images
is *not* an error: ``RandomCropOrPad`` pads (see its documentation).
"""
import difflib
import inspect
from typing import Iterable, List, Optional, Tuple

from mmengine.config import Config

__all__ = ['ConfigError', 'validate_config']


class ConfigError(ValueError):
    """A config value is wrong; the message names the config key."""


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


EMA_KEYS = ('generator_ema', 'rain_generator_ema')


def _check_ema(cfg, model_cfg) -> None:
    """``model.is_use_ema`` and the hook that updates the averages go together."""
    hooks = [(i, h) for i, h in enumerate(cfg.get('custom_hooks') or [])
             if isinstance(h, dict) and str(h.get('type', '')).split('.')[-1]
             == 'ExponentialMovingAverageHook']
    keys = set()
    for _, hook in hooks:
        mk = hook.get('module_keys', ())
        keys.update((mk, ) if isinstance(mk, str) else mk)
    use_ema = bool(model_cfg.get('is_use_ema', False))
    if use_ema and not set(EMA_KEYS) <= keys:
        raise ConfigError(
            'model.is_use_ema=True needs custom_hooks to hold '
            f"dict(type='ExponentialMovingAverageHook', module_keys={EMA_KEYS}, ...): "
            'without it the averages never move and evaluation sees the initial networks'
            + (f' (found module_keys {sorted(keys)})' if keys else ''))
    if not use_ema and keys & set(EMA_KEYS):
        i = next(i for i, h in hooks)
        raise ConfigError(
            f'custom_hooks.{i} averages {sorted(keys & set(EMA_KEYS))} but model.is_use_ema '
            'is False, so the averages would not be used: set model.is_use_ema=True or drop '
            'the hook')


def _check_nlcl(cfg, model_cfg) -> None:
    from ..models.objective import NLCLObjective
    from ..models.sampler import SAMPLING_MODES, check_sampler_config
    injected = ('gan_loss', 'layer_loss', 'loc_loss', 'consistency_loss', 'sparsity_loss',
                'identity_loss', 'transplant_loss')
    defaults = {n: p.default for n, p in inspect.signature(NLCLObjective).parameters.items()
                if n not in injected}
    objective = dict(model_cfg.get('objective') or {})
    _check_keys(objective, list(defaults), 'model.objective', 'NLCLObjective', ignore=())
    _check_keys(dict(model_cfg.get('train_cfg') or {}), ['disc_steps', 'disc_init_steps'],
                'model.train_cfg', "NLCL's train_cfg", ignore=())
    _check_ema(cfg, model_cfg)
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
