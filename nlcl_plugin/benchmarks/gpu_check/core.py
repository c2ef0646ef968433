"""The GPU check's settings, the :class:`Section` record every section fills in, and the
helpers the sections share (devices, work directories, child tools, config overrides)."""
import argparse
import os
import os.path as osp
import shutil
import socket
import subprocess
from typing import Any, Dict, List, Optional

from ..paths import OFFICIAL_DIR, REPO  # noqa: F401

#: Default order of the sections, their time boxes (seconds) on a GPU and one-line titles.
SECTIONS = {
    'env': (90, 'Environment'),
    'parity': (120, 'Parity of G_B on CUDA'),
    'sampler': (90, 'Non-local sampler on CUDA'),
    'runner': (150, "Training through mmengine's Runner on CUDA"),
    'dist': (180, 'tools/dist_train.sh with NCCL'),
    'bench': (240, 'Speed and memory (tools/benchmark.py)'),
    'demo': (240, 'Demo config: fixed-length training and evaluation'),
    'compile': (240, 'torch.compile of G_B (inference)'),
}
DEFAULT_SECTIONS = ['env', 'parity', 'sampler', 'runner', 'dist', 'bench', 'demo']
DEFAULT_BUDGET = 480  # seconds for all sections together (8 minutes)
WORK_ROOT = osp.join(REPO, 'work_dirs', 'gpu_check')

#: The authors' training iteration on their GPU (their log), for the speed-up target.
AUTHORS_ITER_S = 1.23
TARGETS = [
    # key, what, goal text
    ('amp_b1_ms', 'training iteration, 256x256, batch 1, AMP (fp16)', '<= 40 ms'),
    ('speedup_vs_authors', f'speed-up over the authors\' code ({AUTHORS_ITER_S} s per iteration)',
     '>= 30x'),
    ('b8_images_per_s', 'training images/s, 256x256, batch 8 (best of fp32 / AMP)', '>= 150'),
    ('infer_12mp_s', '4000x3000 photo derained (Derainer fp32, uint8 in and out)', '<= 1 s'),
]


class CudaUnavailable(RuntimeError):
    pass


class Section:
    """What a section reports: checks (pass/fail), tables, metrics."""

    def __init__(self, dry: bool, quick: bool, args: argparse.Namespace):
        self.dry = dry
        self.quick = quick
        self.args = args
        self.checks: List[Dict[str, Any]] = []
        self.tables: List[Dict[str, Any]] = []
        self.metrics: Dict[str, Any] = {}
        self.notes: List[str] = []

    def check(self, name: str, ok: bool, detail: str = '') -> bool:
        self.checks.append(dict(name=name, ok=bool(ok), detail=detail))
        print(f'[{"ok" if ok else "FAILED"}] {name}{": " + detail if detail else ""}', flush=True)
        return ok

    def table(self, title: str, rows: List[Dict[str, Any]], notes=()) -> None:
        rows = [{k: _cell(v) for k, v in r.items()} for r in rows]
        self.tables.append(dict(title=title, rows=rows, notes=list(notes)))

    def result(self) -> Dict[str, Any]:
        return dict(checks=self.checks, tables=self.tables, metrics=self.metrics,
                    notes=self.notes)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return 'nan'
        return f'{v:.4g}' if abs(v) < 1e4 else f'{v:.0f}'
    return str(v)


def device_name(dry: bool) -> str:
    return 'cpu' if dry else 'cuda'


def sync(device) -> None:
    import torch
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def mib(n: Optional[int]) -> str:
    return '-' if n is None else f'{n / 2**20:.0f} MiB'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def fresh_dir(name: str) -> str:
    path = osp.join(WORK_ROOT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    return path


def run_tool(cmd: List[str], log: str, timeout: float, env=None) -> subprocess.CompletedProcess:
    """Run ``cmd`` in the repository, output to ``log``; on timeout its whole process group
    (torchrun's workers too) is killed and :class:`subprocess.TimeoutExpired` raised."""
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise
    return subprocess.CompletedProcess(cmd, code)


def tail(path: str, n: int = 15) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-n:])
    except OSError:
        return ''


def demo_overrides(dry: bool, crop: Optional[int] = None, val: bool = False) -> Dict[str, Any]:
    """cfg-options for configs/nlcl_demo.py runs of this check."""
    opts: Dict[str, Any] = {}
    if dry:
        opts.update({'train_dataloader.num_workers': 0,
                     'train_dataloader.persistent_workers': False})
        crop = crop or 32
    if crop:
        opts['train_dataloader.dataset.pipeline.2.crop_size'] = crop
    if not val:
        opts.update({'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None})
    return opts


def cli_options(opts: Dict[str, Any]) -> List[str]:
    return [f'{k}={"None" if v is None else v}' for k, v in opts.items()]


def _kill_group(proc: subprocess.Popen) -> None:
    import signal
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()
