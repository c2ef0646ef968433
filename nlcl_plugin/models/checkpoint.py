"""Loading generator weights: the plugin's own format and the authors' released files.

The authors' ``latest_net_Back.pth`` / ``latest_net_Rain.pth`` are plain state dicts with
keys ``gen.<i>...`` (see :data:`OFFICIAL_KEY_PATTERNS`); the plugin's
:class:`~nlcl_plugin.models.generator.DecompositionGenerator` uses ``layers.<i>...``.
Training checkpoints written by the plugin (mmengine) hold both generators under
``state_dict['generator.*']`` and ``state_dict['rain_generator.*']``. Every loader here
loads weights-only (:mod:`nlcl_plugin.checkpoint_safety`); ``trust=True``
(``--trust-checkpoint``) unpickles in full.
"""
import os
import re
from typing import Dict, Optional

import torch

from ..checkpoint_safety import CheckpointError, UntrustedCheckpointError, load_checkpoint_file

__all__ = [
    'CheckpointError', 'UntrustedCheckpointError', 'build_generator', 'convert_official_state_dict',
    'detect_layout', 'load_generator', 'load_generator_state', 'load_state_file'
]

OFFICIAL_KEY_PATTERNS = (
    (re.compile(r'^gen\.(\d+)\.model\.0\.conv\.(weight|bias)$'), r'layers.\1.conv1.\2'),
    (re.compile(r'^gen\.(\d+)\.model\.1\.conv\.(weight|bias)$'), r'layers.\1.conv2.\2'),
    (re.compile(r'^gen\.(\d+)\.conv\.0\.(weight|bias)$'), r'layers.\1.conv1.\2'),
    (re.compile(r'^gen\.(\d+)\.conv\.3\.(weight|bias)$'), r'layers.\1.conv2.\2'),
    (re.compile(r'^gen\.(\d+)\.(weight|bias)$'), r'layers.\1.\2'),
)

# Prefixes under which the plugin's training checkpoints store each generator.
ROLE_PREFIXES = {
    'background': ('generator.', 'net_g.', 'net_b.'),
    'rain': ('rain_generator.', 'net_r.'),
}
# ... and the moving averages of their weights (``model.is_use_ema``), preferred when present.
EMA_PREFIXES = {
    'background': ('generator_ema.', ),
    'rain': ('rain_generator_ema.', ),
}


def _is_torch_file(path: str) -> bool:
    """Whether ``path`` has the form of a ``torch.save`` file: a zip archive (the format
    since torch 1.6) or a pickle (the legacy format starts with a pickle protocol byte)."""
    import zipfile
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as f:
        return f.read(1) == b'\x80'


def load_state_file(path: str, trust: bool = False) -> dict:
    """Load a checkpoint file weights-only, with errors that name the file.

    Args:
        path (str): The file.
        trust (bool): Full unpickling (``--trust-checkpoint``): only for trusted files.

    Raises:
        CheckpointError: Missing, not a torch file, unreadable, or not a dict.
        UntrustedCheckpointError: It holds an object a weights-only load refuses.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    if not _is_torch_file(path):
        raise CheckpointError(f'{path} is not a PyTorch checkpoint (neither a torch.save zip '
                              f'archive nor a pickle; {os.path.getsize(path)} bytes)')
    try:
        obj = load_checkpoint_file(path, map_location='cpu', trust=trust)
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # truncated zip, pickle error
        raise CheckpointError(f'cannot read checkpoint {path}: {type(err).__name__}: '
                              f'{str(err).splitlines()[0] if str(err) else ""}') from err
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path} does not hold a state dict (got {type(obj).__name__})')
    return obj


def detect_layout(state: dict) -> str:
    """'official' (gen.<i>), 'plugin' (layers.<i>) or 'training' (a full model checkpoint)."""
    sd = state.get('state_dict', state)
    keys = list(sd.keys())
    if any(k.startswith('gen.') for k in keys):
        return 'official'
    if any(k.startswith('layers.') for k in keys):
        return 'plugin'
    if any(k.startswith(p) for k in keys for ps in ROLE_PREFIXES.values() for p in ps):
        return 'training'
    return 'unknown'


def convert_official_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename the authors' ``gen.<i>`` keys to the plugin's ``layers.<i>`` keys."""
    out = {}
    for key, value in state.items():
        for pattern, repl in OFFICIAL_KEY_PATTERNS:
            if pattern.match(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            raise CheckpointError(f'unexpected key in official generator checkpoint: {key}')
    return out


def load_generator_state(path: str, role: str = 'background', ema: Optional[bool] = None,
                         trust: bool = False) -> Dict[str, torch.Tensor]:
    """The state dict of one generator, in the plugin's key layout, from any known file.

    Args:
        path (str): Official ``latest_net_*.pth``, a converted/exported generator file,
            or a training checkpoint of the plugin (mmengine or BasicSR).
        role (str): 'background' (G_B) or 'rain' (G_R); used for training checkpoints.
        ema (bool, optional): For files that hold both a generator and the moving average
            of its weights (``generator_ema.*`` of MMagic checkpoints, ``params_ema`` of
            BasicSR files): None (default) takes the average, False the raw weights,
            True requires the average.
        trust (bool): Full unpickling (``--trust-checkpoint``), see :func:`load_state_file`.

    Returns:
        dict: Keys ``layers.<i>...`` ready for ``DecompositionGenerator.load_state_dict``.
    """
    if role not in ROLE_PREFIXES:
        raise ValueError(f"role must be one of {sorted(ROLE_PREFIXES)}, got {role!r}")
    state = load_state_file(path, trust)
    basicsr_keys = ('params', ) if ema is False else ('params_ema', ) if ema else (
        'params_ema', 'params')
    if any(isinstance(state.get(k), dict) for k in ('params', 'params_ema')):  # BasicSR
        key = next((k for k in basicsr_keys if isinstance(state.get(k), dict)), None)
        if key is None:
            raise CheckpointError(f'{path} holds no {basicsr_keys[0]!r} weights '
                                  f'(keys {sorted(state)})')
        state = state[key]
    layout = detect_layout(state)
    sd = state.get('state_dict', state)
    if layout == 'official':
        return convert_official_state_dict(sd)
    if layout == 'plugin':
        return dict(sd)
    if layout == 'training':
        prefixes = ROLE_PREFIXES[role] if ema is False else EMA_PREFIXES[role] if ema else (
            EMA_PREFIXES[role] + ROLE_PREFIXES[role])
        for prefix in prefixes:
            # 'generator.module.layers...' when saved from inside a DDP wrapper
            sub = {re.sub(r'^module\.', '', k[len(prefix):]): v
                   for k, v in sd.items() if k.startswith(prefix)}
            if sub:
                return sub
        raise CheckpointError(f'{path} holds no {role} generator (looked for keys starting '
                              f'with {prefixes})')
    keys = list(sd)
    raise CheckpointError(f'{path} is not an NLCL generator checkpoint: a checkpoint without '
                          f'generator weights: keys {keys[:5]}'
                          f'{f" and {len(keys) - 5} more" if len(keys) > 5 else ""}')


def build_generator(path: str, role: str = 'background', ema: Optional[bool] = None,
                    trust: bool = False) -> torch.nn.Module:
    """A :class:`DecompositionGenerator` of the form the weights in ``path`` were
    trained in (residual or plain, from :data:`RESIDUAL_MARKER`; removing light only, from
    :data:`REMOVES_LIGHT_MARKER`), with them loaded.

    Args:
        path (str): Any file :func:`load_generator_state` reads.
        role (str): 'background' (G_B) or 'rain' (G_R).
        ema (bool, optional): See :func:`load_generator_state`.
        trust (bool): Full unpickling (``--trust-checkpoint``), see :func:`load_state_file`.
    """
    from .generator import (AIRLIGHT_MARKER, GREY_LIGHT_MARKER, NO_NORM_MARKER,
                            OFF_STREAK_MARKER, REMOVES_LIGHT_MARKER,
                            RESIDUAL_MARKER, STREAK_LIGHT_MARKER, STREAK_RESTORE_MARKER,
                            THIN_LIGHT_MARKER,
                            VEIL_MARKER,
                            DecompositionGenerator)
    sd = load_generator_state(path, role, ema, trust)
    weight = sd.get('layers.0.weight')
    mid = int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.dim() == 4 else 32
    blocks = len({k.split('.')[1] for k in sd if k.startswith('layers.')}) - 3
    model = DecompositionGenerator(mid_channels=mid, num_blocks=max(blocks, 0),
                                   residual=RESIDUAL_MARKER in sd,
                                   removes_light=REMOVES_LIGHT_MARKER in sd,
                                   removal_sharpness=float(sd.get(REMOVES_LIGHT_MARKER, 50.0)),
                                   thin_light_size=int(sd.get(THIN_LIGHT_MARKER, 0)),
                                   veil_scale=int(sd.get(VEIL_MARKER, 0)),
                                   grey_light=GREY_LIGHT_MARKER in sd,
                                   airlight=AIRLIGHT_MARKER in sd,
                                   streak_length=int(sd.get(STREAK_LIGHT_MARKER, 0)),
                                   off_streak_light=OFF_STREAK_MARKER in sd,
                                   streak_restore=int(sd.get(STREAK_RESTORE_MARKER, 0)),
                                   norm='none' if NO_NORM_MARKER in sd else 'instance')
    return _load_into(model, sd, path, strict=True)


def _load_into(model: torch.nn.Module, sd: Dict[str, torch.Tensor], path: str,
               strict: bool) -> torch.nn.Module:
    try:
        model.load_state_dict(sd, strict=strict)
    except RuntimeError as err:
        raise CheckpointError(f'{path} does not match the generator architecture: '
                              f'{str(err).splitlines()[0]}') from err
    return model


def load_generator(model: torch.nn.Module, path: str, role: str = 'background',
                   strict: bool = True, ema: Optional[bool] = None,
                   trust: bool = False) -> Optional[torch.nn.Module]:
    """Load ``path`` into ``model`` with an error naming the file on any mismatch."""
    return _load_into(model, load_generator_state(path, role, ema, trust), path, strict)
