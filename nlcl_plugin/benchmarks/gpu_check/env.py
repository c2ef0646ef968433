"""Section ``env``: GPU, driver, torch / CUDA / cuDNN / NCCL versions, host package versions."""
import datetime
import os
import platform
import subprocess
from typing import Any, Dict

from .core import Section


def section_env(s: Section) -> None:
    import importlib.metadata as md

    import torch
    info: Dict[str, Any] = {
        'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'),
        'python': platform.python_version(),
        'platform': platform.platform(),
        'cpu cores': os.cpu_count(),
        'torch': torch.__version__,
        'torch CUDA': torch.version.cuda or '-',
        'cuDNN': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else '-',
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update({
            'GPU': torch.cuda.get_device_name(0), 'GPUs visible': torch.cuda.device_count(),
            'compute capability': '.'.join(map(str, torch.cuda.get_device_capability(0))),
            'multiprocessors': props.multi_processor_count,
            'GPU memory': f'{props.total_memory / 2**30:.1f} GiB',
            'TF32 (cuDNN conv / matmul)': f'{torch.backends.cudnn.allow_tf32} / '
                                          f'{torch.backends.cuda.matmul.allow_tf32}'})
        try:
            info['NCCL'] = '.'.join(map(str, torch.cuda.nccl.version()))
        except Exception as err:  # noqa: BLE001
            info['NCCL'] = f'unavailable ({err})'
    try:
        smi = subprocess.run(['nvidia-smi', '--query-gpu=driver_version,name,memory.total',
                              '--format=csv,noheader'], capture_output=True, text=True,
                             timeout=30)
        if smi.returncode == 0 and smi.stdout.strip():
            info['driver (nvidia-smi)'] = smi.stdout.strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired):
        info['driver (nvidia-smi)'] = 'nvidia-smi not found'
    packages = {}
    for dist in ('nlcl_plugin', 'mmengine', 'mmcv', 'mmcv-lite', 'mmagic', 'basicsr',
                 'torchvision', 'numpy', 'opencv-python-headless', 'opencv-python', 'scipy',
                 'scikit-image', 'diffusers', 'transformers', 'huggingface-hub', 'tokenizers'):
        try:
            packages[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    s.metrics.update(info=info, packages=packages)
    s.table('Machine and versions', [{'what': k, 'value': v} for k, v in info.items()])
    s.table('Host packages', [{'package': k, 'version': v} for k, v in packages.items()])
    try:
        import nlcl_plugin.mmagic  # noqa: F401
        import nlcl_plugin.basicsr  # noqa: F401
        from mmagic.registry import MODELS
        s.check('nlcl_plugin.mmagic and nlcl_plugin.basicsr import; NLCL registered',
                MODELS.get('NLCL') is not None)
    except Exception as err:  # noqa: BLE001
        s.check('nlcl_plugin.mmagic and nlcl_plugin.basicsr import', False,
                f'{type(err).__name__}: {err}')
    if not s.dry:
        import torch
        x = torch.randn(256, 256, device='cuda')
        s.check('a CUDA matrix product runs', bool(torch.isfinite(x @ x).all()))
