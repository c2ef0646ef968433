"""The real host stack imports and works in the project's environment."""
import subprocess
import sys

import pytest


def run_py(code):
    """Run code in a fresh interpreter of this environment (no nlcl_plugin import)."""
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd='/')


def test_compat_active_in_every_interpreter():
    res = run_py('import sys, torchvision, torchvision.ops\n'
                 'from nlcl_plugin import compat\n'
                 'assert compat.is_installed()\n'
                 'print(torchvision.__version__)')
    assert res.returncode == 0, res.stderr


def test_torchvision_imports_and_works():
    import torch
    import torchvision
    from torchvision.transforms import functional as tvf
    x = torch.rand(3, 8, 8)
    assert tvf.hflip(x).shape == x.shape
    assert torchvision.__version__.startswith('0.')


def test_basicsr_registries_filled():
    import basicsr  # noqa: F401
    from basicsr.utils.registry import (ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY,
                                        MODEL_REGISTRY)
    assert 'RRDBNet' in ARCH_REGISTRY
    assert 'SRModel' in MODEL_REGISTRY
    assert 'L1Loss' in LOSS_REGISTRY
    assert 'PairedImageDataset' in DATASET_REGISTRY
    import torchvision.transforms.functional_tensor as ft
    import torchvision.transforms._functional_tensor as real
    assert ft is real


def test_mmagic_registers_and_runs_a_deraining_model():
    import torch
    from mmagic.registry import MODELS
    from mmagic.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(
        dict(type='BaseEditModel',
             generator=dict(type='Restormer', dim=8, num_blocks=[1, 1, 1, 1],
                            num_refinement_blocks=1, heads=[1, 1, 1, 1]),
             pixel_loss=dict(type='L1Loss'),
             data_preprocessor=dict(type='DataPreprocessor', mean=[0, 0, 0],
                                    std=[255, 255, 255])))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 32, 32) * 255, mode='tensor')
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()
    import numpy as np
    assert np.bool8 is np.bool_


def test_mmcv_ops_standin_raises_only_when_called():
    import mmcv
    import mmcv.ops  # noqa: F401  (mmagic's editors import it at registration)
    ext = sys.modules['mmcv._ext']
    if getattr(ext, '__file__', None):
        pytest.skip('full mmcv with compiled ops is installed')
    with pytest.raises(NotImplementedError, match='nms.*mmcv-lite'):
        ext.nms()
    assert mmcv.__version__ == '2.1.0'


def test_mmengine_resumes_checkpoints_with_objects(tmp_path):
    import numpy as np
    import torch
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import _load_checkpoint
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': {'h': HistoryBuffer([1.0, 2.0], [1, 1])}, 'x': np.float64(3)}, path)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert isinstance(ckpt['message_hub']['h'], HistoryBuffer)
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'missing.pth'))


def test_basicsr_resume_loads_on_cpu(tmp_path):
    import torch
    import basicsr.train as bt
    path = tmp_path / '5.state'
    torch.save({'iter': 5, 'epoch': 0, 'optimizers': [], 'schedulers': []}, path)
    opt = {'auto_resume': False, 'path': {'resume_state': str(path)}, 'name': 'x'}
    state = bt.load_resume_state(opt)
    assert state['iter'] == 5


def test_install_is_idempotent():
    from nlcl_plugin import compat
    before = list(sys.meta_path)
    compat.install()
    compat.install()
    assert sys.meta_path == before
