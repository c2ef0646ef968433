"""What CPU this process runs on, in one line (for benchmark and demo reports).

Speed figures of this project depend on the CPU kind: channels-last convolutions, bf16
autocast (``--amp``, ``--precision bf16``) and oneDNN's kernels are fast only with the
matching instruction sets. :func:`describe_cpu` names the model, the cores visible to
the process and the instruction sets that matter here (AVX2, AVX-512, AVX-512 BF16,
AMX), read from ``/proc/cpuinfo`` on Linux; elsewhere it says what Python's
:mod:`platform` knows.
"""
import os
import platform
from typing import Dict, List, Optional

__all__ = ['cpu_info', 'describe_cpu', 'bf16_fast']

# (label, /proc/cpuinfo flags of which one suffices), in the order they are listed
_FEATURES = (
    ('AVX2', ('avx2',)),
    ('AVX-512', ('avx512f',)),
    ('AVX-512 BF16', ('avx512_bf16',)),
    ('AMX', ('amx_tile', 'amx_bf16')),
)


def _read_cpuinfo(path: str = '/proc/cpuinfo') -> Optional[Dict[str, str]]:
    """The first processor's fields of ``/proc/cpuinfo`` (None where unreadable)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(':')
        fields.setdefault(key.strip(), value.strip())
    return fields


def _visible_cores() -> int:
    """CPUs this process may run on (its affinity mask where supported)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_info(cpuinfo_path: str = '/proc/cpuinfo') -> Dict[str, object]:
    """The CPU as a dict.

    Returns:
        dict: ``model`` (str), ``cores`` (CPUs visible to this process, int),
        ``logical_cpus`` (``os.cpu_count()``), ``features`` (list of labels among
        AVX2, AVX-512, AVX-512 BF16, AMX; None where unknown, e.g. not Linux),
        ``flags_known`` (bool), ``machine`` (``platform.machine()``).
    """
    fields = _read_cpuinfo(cpuinfo_path)
    model = None
    features: Optional[List[str]] = None
    if fields is not None:
        model = fields.get('model name') or fields.get('Model') or fields.get('cpu model')
        flags = set((fields.get('flags') or fields.get('Features') or '').split())
        if flags:
            features = [label for label, names in _FEATURES if flags.intersection(names)]
    if not model:
        model = platform.processor() or platform.machine() or 'unknown CPU'
    return dict(model=' '.join(model.split()), cores=_visible_cores(),
                logical_cpus=os.cpu_count() or 1, features=features,
                flags_known=features is not None, machine=platform.machine())


def describe_cpu(cpuinfo_path: str = '/proc/cpuinfo') -> str:
    """One line naming the CPU, e.g.
    ``Intel(R) Xeon(R) Processor, 2 cores, AVX2 AVX-512 AVX-512 BF16 AMX``
    or ``AMD EPYC 7B13, 2 cores, AVX2 (no AVX-512)``.
    """
    info = cpu_info(cpuinfo_path)
    cores = info['cores']
    text = f"{info['model']}, {cores} core{'s' if cores != 1 else ''}"
    if info['logical_cpus'] != cores:
        text += f" (of {info['logical_cpus']})"
    features = info['features']
    if features is None:
        return text + ', instruction sets unknown'
    if not features:
        return text + ', no AVX2'
    text += ', ' + ' '.join(features)
    if 'AVX-512' not in features:
        text += ' (no AVX-512)'
    return text


def bf16_fast(cpuinfo_path: str = '/proc/cpuinfo') -> Optional[bool]:
    """Whether bf16 maths has hardware support here (AVX-512 BF16 or AMX); None where
    unknown. Without it bf16 autocast on CPU is emulated and slower than fp32."""
    features = cpu_info(cpuinfo_path)['features']
    if features is None:
        return None
    return 'AVX-512 BF16' in features or 'AMX' in features
