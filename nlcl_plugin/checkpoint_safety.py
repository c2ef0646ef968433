"""Loading checkpoint files without letting them run code.

``torch.load`` unpickles, and a pickle can call any importable function (``os.system``
in a ``__reduce__``). Every checkpoint load of the plugin (the tools, mmengine's
``--resume`` / ``load_from`` through :mod:`nlcl_plugin.compat`, the checkpoint pre-check,
BasicSR's ``resume_state`` and ``pretrain_network_*``) goes through
:func:`load_checkpoint_file`, which uses torch's weights-only unpickler: tensors, plain
containers and numbers, plus the types of :func:`allowed_globals` and nothing else. The
list is passed to the load only (``torch.serialization.safe_globals``), not made global.

:func:`allowed_globals` holds exactly what the hosts' own checkpoints contain besides
what torch allows by default, found by listing the globals
(``torch.serialization.get_unsafe_globals_in_checkpoint``) of the checkpoints written by
2-iteration runs of ``configs/nlcl_demo.py`` (also with ``--amp``),
``configs/demo/supervised_demo.py`` and ``configs/basicsr/nlcl_demo.yml``:

* mmengine (``iter_*.pth``, ``best_*.pth``): the message hub's
  ``mmengine.logging.history_buffer.HistoryBuffer``, which keeps numpy arrays
  (``numpy.ndarray`` rebuilt by ``numpy._core.multiarray._reconstruct``, of
  ``numpy.dtype`` float64 and int64: ``numpy.dtypes.Float64DType``,
  ``numpy.dtypes.Int64DType``) and its statistics methods (``builtins.getattr`` on the
  class; the unpickler still calls only allowed functions), and numpy scalars
  (``numpy._core.multiarray.scalar`` of ``numpy.dtypes.Float32DType``: the best score);
* BasicSR (``models/net_*.pth``, ``training_states/*.state``): nothing beyond torch's
  defaults (its scheduler milestones are a ``collections.Counter``, allowed by torch).

The way out, for a file from an earlier version or a foreign one that the user trusts:
``--trust-checkpoint`` on the tools (``trust=True``, :func:`trusting`, :func:`trust_file`),
``trust_checkpoint = True`` in a Runner config, or the environment variable
``NLCL_TRUST_CHECKPOINT=1``; these load with full unpickling. Without it a refused file
raises :class:`UntrustedCheckpointError`, one line naming the file, the offending type
and the flag.
"""
import contextlib
import os
import os.path as osp
import pickle
import re
from typing import Callable, Iterator, List, Optional

__all__ = [
    'TRUST_ENV', 'TRUST_FLAG', 'CheckpointError', 'UntrustedCheckpointError',
    'add_trust_argument', 'allowed_globals', 'guarded_load', 'is_trusted',
    'load_checkpoint_file', 'trust_file', 'trusting'
]

#: Environment variable that trusts every checkpoint the process loads (``1``/``true``).
TRUST_ENV = 'NLCL_TRUST_CHECKPOINT'
#: The tools' command-line flag for the same, for the files of that command.
TRUST_FLAG = '--trust-checkpoint'

_TRUSTED_FILES = set()
_TRUST_DEPTH = [0]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, refused or of the wrong architecture."""


class UntrustedCheckpointError(CheckpointError):
    """A weights-only load refused the file: it holds an object outside the allow-list.

    Attributes:
        path (str): The file (or URL).
        offending (str): The refused type(s) or function(s), e.g. ``posix.system``.
    """

    def __init__(self, path: str, offending: str, where: Optional[str] = None):
        self.path = path
        self.offending = offending
        super().__init__(
            f'{where or path}: refused to load {offending}: a weights-only load takes '
            'tensors and the types of mmengine/BasicSR checkpoints only, since unpickling '
            f'other objects can run code; if you trust this file, pass {TRUST_FLAG} (or set '
            f'{TRUST_ENV}=1; Runner configs: trust_checkpoint = True)')


def allowed_globals() -> List[Callable]:
    """What a weights-only load of a host checkpoint needs besides torch's defaults.

    See the module docstring for the checkpoints each entry was found in.
    """
    import numpy as np
    multiarray = np._core.multiarray
    allowed = [np.ndarray, multiarray._reconstruct, np.dtype, np.dtypes.Float64DType,
               np.dtypes.Int64DType, np.dtypes.Float32DType, multiarray.scalar, getattr]
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:  # BasicSR-only installs: BasicSR's files need none of these
        return allowed
    return allowed + [HistoryBuffer]


def _env_trust() -> bool:
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true', 'yes', 'on')


def _key(path) -> str:
    path = str(path)
    return path if '://' in path else osp.realpath(osp.expanduser(path))


def trust_file(path) -> None:
    """Load ``path`` (a file or URL) with full unpickling from now on in this process
    (``--trust-checkpoint`` / ``trust_checkpoint`` for the Runner's own loads)."""
    _TRUSTED_FILES.add(_key(path))


@contextlib.contextmanager
def trusting(enabled: bool = True) -> Iterator[None]:
    """Within the block, every checkpoint loads with full unpickling (when ``enabled``)."""
    _TRUST_DEPTH[0] += bool(enabled)
    try:
        yield
    finally:
        _TRUST_DEPTH[0] -= bool(enabled)


def is_trusted(path) -> bool:
    """Whether ``path`` is to be loaded with full unpickling: :data:`TRUST_ENV` is set,
    a :func:`trusting` block is active, or :func:`trust_file` named it."""
    return _env_trust() or _TRUST_DEPTH[0] > 0 or _key(path) in _TRUSTED_FILES


def _allowed_names() -> set:
    return {f'{g.__module__}.{g.__qualname__}' for g in allowed_globals()}


def _offending(path, err: BaseException) -> str:
    """The refused globals of ``path`` (scanned without unpickling), else what the
    unpickler's message names."""
    try:
        import torch
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        refused = [name for name in found if name not in _allowed_names()]
        if refused:
            return ', '.join(sorted(refused))
    except Exception:  # not a zip checkpoint (legacy format), a URL, unreadable
        pass
    text = str(err)
    for pattern in (r'GLOBAL (\S+) was not an allowed global',
                    r'unsupported GLOBAL (\S+)',
                    r"but got <class '([^']+)'>",
                    r'reduce for unrecognized function (.+?)(?: which belongs|$)',
                    r'WeightsUnpickler error: (.+)'):
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            return match.group(1).strip().rstrip('.')
    return 'an object outside the allow-list'


def _corrupt(err: BaseException) -> bool:
    """True when the weights-only unpickler stopped on bytes that are no pickle at all
    (a truncated or damaged file), rather than on a refused object."""
    return bool(re.search(r'Unsupported operand|pickle data was truncated|'
                          r'invalid load key', str(err)))


def guarded_load(load: Callable[[bool], object], path, trust: bool = False,
                 where: Optional[str] = None):
    """Run ``load(weights_only)`` as this module's rules say.

    Args:
        load: Calls ``torch.load`` (or a loader that passes ``weights_only`` on to it).
        path: The file or URL, for the trust check and the message.
        trust (bool): Load with full unpickling (also when :func:`is_trusted`).
        where (str, optional): How messages name the file (default: ``path``).

    Raises:
        UntrustedCheckpointError: The weights-only unpickler refused the file.
    """
    import torch
    if trust or is_trusted(path):
        return load(False)
    with torch.serialization.safe_globals(allowed_globals()):
        try:
            return load(True)
        except pickle.UnpicklingError as err:
            if 'weights only' not in str(err).lower() or _corrupt(err):
                raise  # not a refusal: a damaged or foreign file, reported as such
            raise UntrustedCheckpointError(str(path), _offending(path, err), where) from err


def load_checkpoint_file(path: str, map_location='cpu', trust: bool = False,
                         where: Optional[str] = None):
    """``torch.load(path)`` weights-only with :func:`allowed_globals`, unless trusted.

    Args:
        path (str): Checkpoint file.
        map_location: As for ``torch.load`` (default: the CPU).
        trust (bool): Full unpickling (``--trust-checkpoint``); also when
            :func:`is_trusted` says so.
        where (str, optional): How messages name the file (default: ``path``).

    Raises:
        UntrustedCheckpointError: The file holds an object outside the allow-list. Other
            errors (a truncated or foreign file) are torch's.
    """
    import torch
    return guarded_load(
        lambda weights_only: torch.load(path, map_location=map_location,
                                        weights_only=weights_only), path, trust, where)


def add_trust_argument(parser) -> None:
    """Add :data:`TRUST_FLAG` to a tool's ``argparse`` parser (``args.trust_checkpoint``)."""
    parser.add_argument(
        TRUST_FLAG, action='store_true',
        help='load the checkpoint(s) with full unpickling, which can run code stored in '
        'the file: only for files you trust (e.g. written by an earlier version). By '
        'default checkpoints are loaded weights-only (tensors and the types of '
        f'mmengine/BasicSR checkpoints). Also: {TRUST_ENV}=1')
