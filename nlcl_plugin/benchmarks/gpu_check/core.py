"""The GPU check's settings, the :class:`Section` record every section fills in, and the
helpers the sections share (devices, work directories, child tools, config overrides)."""
import argparse
import json
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
    'compile': (300, 'torch.compile: training step, Derainer, G_B'),
}
DEFAULT_SECTIONS = ['env', 'parity', 'sampler', 'runner', 'bench', 'compile', 'dist', 'demo']
DEFAULT_BUDGET = 540  # seconds for all sections together (9 minutes)
WORK_ROOT = osp.join(REPO, 'work_dirs', 'gpu_check')

#: The authors' training iteration on their GPU (their log), for the speed-up target.
AUTHORS_ITER_S = 1.23
#: The targets on one H200-class GPU: metric key, what, goal text, 'le' / 'ge', the
#: bound, how the value is written.
TARGETS = [
    ('amp_b1_ms', 'training step, 256x256, batch 1, AMP (fp16)', '<= 30 ms', 'le', 30.0,
     '{:.1f} ms'),
    ('amp_b1_compiled_ms', 'the same, compiled (torch.compile, reduce-overhead)', '<= 30 ms',
     'le', 30.0, '{:.1f} ms'),
    ('bf16_b1_ms', 'training step, 256x256, batch 1, AMP (bf16)', '<= 30 ms', 'le', 30.0,
     '{:.1f} ms'),
    ('fp32_b1_ms', 'training step, 256x256, batch 1, fp32', '<= 50 ms', 'le', 50.0,
     '{:.1f} ms'),
    ('speedup_vs_authors', f'speed-up over the authors\' code ({AUTHORS_ITER_S} s per '
     'iteration), AMP', '>= 40x', 'ge', 40.0, '{:.1f}x'),
    ('b8_images_per_s', 'training images/s, 256x256, batch 8 (best of fp32 / AMP)', '>= 150',
     'ge', 150.0, '{:.0f} images/s'),
    ('infer_12mp_compiled_s', '4000x3000 photo, Derainer with compile (fp32, uint8 in and '
     'out), within 1 grey level of eager fp32', '<= 0.3 s', 'le', 0.3, '{:.2f} s'),
    ('infer_12mp_s', '4000x3000 photo derained (Derainer fp32, eager, uint8 in and out)',
     '<= 1 s', 'le', 1.0, '{:.2f} s'),
]


class CudaUnavailable(RuntimeError):
    pass


class Section:
    """What a section reports: checks (pass/fail), tables, metrics.

    With ``save_to``, every check and table is also written there at once (JSON, status
    ``partial``), so that a section stopped at its time box keeps what it had measured.
    """

    def __init__(self, dry: bool, quick: bool, args: argparse.Namespace,
                 save_to: Optional[str] = None):
        self.dry = dry
        self.quick = quick
        self.args = args
        self.save_to = save_to
        self.checks: List[Dict[str, Any]] = []
        self.tables: List[Dict[str, Any]] = []
        self.metrics: Dict[str, Any] = {}
        self.notes: List[str] = []

    def check(self, name: str, ok: bool, detail: str = '') -> bool:
        self.checks.append(dict(name=name, ok=bool(ok), detail=detail))
        print(f'[{"ok" if ok else "FAILED"}] {name}{": " + detail if detail else ""}', flush=True)
        self.save()
        return ok

    def table(self, title: str, rows: List[Dict[str, Any]], notes=()) -> None:
        rows = [{k: _cell(v) for k, v in r.items()} for r in rows]
        self.tables.append(dict(title=title, rows=rows, notes=list(notes)))
        self.save()

    def save(self, status: str = 'partial') -> None:
        """Write the result so far to ``save_to`` (replacing it whole)."""
        if not self.save_to:
            return
        tmp = self.save_to + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(self.result(), status=status), f, indent=1, default=str)
        os.replace(tmp, self.save_to)

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
