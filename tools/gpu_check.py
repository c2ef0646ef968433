#!/usr/bin/env python
"""One command that checks the plugin on a CUDA GPU and records the numbers.

    python tools/gpu_check.py [--sections env,parity,...] [--quick] [--out results]
    make gpu-check

Sections (each in its own child process, time-boxed; a failure is recorded and the next
section runs):

``env``      GPU, driver, torch / CUDA / cuDNN / NCCL versions, host package versions.
``parity``   G_B on CUDA: with the authors' weights and photos (``$NLCL_OFFICIAL_DIR``,
             default ``../shared/official-nlcl``) against their outputs, within 1 grey
             level; without them, CUDA against CPU on random weights and inputs. fp32
             with TF32 off and with torch's defaults (cuDNN may use TF32), fp16 for
             information.
``sampler``  the non-local search on CUDA against a brute-force float64 reference, and
             CUDA against CPU on the training sizes.
``runner``   training iterations through mmengine's Runner (``configs/nlcl_demo.py``,
             256x256 crops) on CUDA, fp32 and fp16 ``AmpOptimWrapper``: finite losses,
             every parameter updated.
``dist``     ``tools/dist_train.sh`` with NCCL: one process for 20 iterations, then two
             processes on the same GPU (or two GPUs where there are two), with the reason
             when that cannot start.
``bench``    ``tools/benchmark.py``'s training step on CUDA at 256x256, batch 1/4/8, fp32
             and AMP (ms/iter, images/s, peak memory, phase breakdown, a profiler pass
             for the GPU's busy time), and G_B inference on 512x1024 and 4000x3000 (ms,
             peak memory).
``demo``     ``configs/nlcl_demo.py`` trained for ``--demo-iters`` iterations (300, as
             the CPU runs in the README) and evaluated on the demo test split
             (``tools/demo_report.py``: PSNR / SSIM), so GPU and CPU runs compare.
``compile``  (not in the default list) ``torch.compile`` of G_B for 4000x3000 inference.

Writes ``OUT/gpu_check.json`` (everything) and ``OUT/gpu_check.md`` (the tables, the
targets met or missed) and prints the markdown. Logs and work directories go to
``work_dirs/gpu_check/``. Exit status: 0 when every check passed (performance targets
are reported, not enforced), 1 when a check failed or a section did not finish, 2
without CUDA (one line on stderr) or on bad arguments.

``--allow-cpu`` runs the same code on the CPU with tiny sizes: a dry run of this script,
whose numbers are not GPU numbers (the report says so).
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

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
OFFICIAL_DIR = os.environ.get('NLCL_OFFICIAL_DIR', osp.join(REPO, '..', 'shared', 'official-nlcl'))
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


# --------------------------------------------------------------------------- arguments
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Check nlcl_plugin on a CUDA GPU: parity, sampler, training through '
        "mmengine's Runner (fp32 and AMP), distributed start-up (NCCL), speed and memory, "
        'a demo training run; writes OUT/gpu_check.json and OUT/gpu_check.md.')
    p.add_argument('--sections', default=','.join(DEFAULT_SECTIONS),
                   help=f'comma-separated sections (default: {",".join(DEFAULT_SECTIONS)}; '
                   f'also: compile; "all": every one)')
    p.add_argument('--quick', action='store_true',
                   help='fewer repetitions and iterations')
    p.add_argument('--out', default=osp.join(REPO, 'results'),
                   help='folder of gpu_check.json and gpu_check.md (default: results/)')
    p.add_argument('--budget', type=float, default=DEFAULT_BUDGET,
                   help=f'seconds for all sections together (default {DEFAULT_BUDGET}); each '
                   'section also has its own time box')
    p.add_argument('--demo-iters', type=int, default=None,
                   help='demo: training iterations (default 300, --quick 50)')
    p.add_argument('--official-dir', default=OFFICIAL_DIR,
                   help='the authors\' checkpoints, photos and outputs (default: '
                   '$NLCL_OFFICIAL_DIR or ../shared/official-nlcl)')
    p.add_argument('--allow-cpu', action='store_true',
                   help='dry run of this script on the CPU with tiny sizes (not GPU numbers)')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    p.add_argument('--child-out', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = [s.strip() for s in args.sections.split(',') if s.strip()]
    if names == ['all']:
        names = list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        p.error(f'--sections: unknown section(s) {", ".join(unknown) or "(none given)"}; '
                f'choose from {", ".join(SECTIONS)} or all')
    args.section_list = list(dict.fromkeys(names))
    if args.budget <= 0:
        p.error('--budget must be > 0')
    if args.demo_iters is not None and args.demo_iters < 1:
        p.error('--demo-iters must be >= 1')
    if args.demo_iters is None:
        args.demo_iters = 2 if args.allow_cpu else (50 if args.quick else 300)
    return args


def cuda_status() -> Optional[str]:
    """None when CUDA is usable, else why not (one line)."""
    try:
        import torch
    except ImportError as err:
        return f'torch cannot be imported ({err})'
    if not torch.cuda.is_available():
        built = torch.version.cuda
        if built is None:
            return (f'torch {torch.__version__} is a CPU build; on a machine with an NVIDIA '
                    'GPU install the CUDA build (requirements/torch-cuda.txt; a .venv made '
                    'with the CPU build: rm -rf .venv && make gpu-check)')
        return (f'torch {torch.__version__} (CUDA {built}) sees no usable GPU '
                f'(CUDA_VISIBLE_DEVICES={os.environ.get("CUDA_VISIBLE_DEVICES", "unset")})')
    return None


# --------------------------------------------------------------------------- helpers
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


# --------------------------------------------------------------------------- env
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


# --------------------------------------------------------------------------- parity
class tf32:
    """Context: cuDNN convolutions / matmuls with TF32 allowed or not."""

    def __init__(self, allow: bool):
        self.allow = allow

    def __enter__(self):
        import torch
        self.saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = self.allow
        torch.backends.cuda.matmul.allow_tf32 = self.allow

    def __exit__(self, *exc):
        import torch
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self.saved


def grey_stats(ours, ref) -> Dict[str, Any]:
    import numpy as np
    diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    mse = float(np.mean(diff.astype(np.float64)**2))
    psnr = float('inf') if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return dict(max=int(diff.max()), psnr=psnr, differing=float((diff > 0).mean()))


def section_parity(s: Section) -> None:
    import cv2
    import numpy as np
    import torch

    from nlcl_plugin.image_io import read_image
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.models import DecompositionGenerator
    from nlcl_plugin.models.checkpoint import load_generator
    dev = device_name(s.dry)
    root = s.args.official_dir
    ckpt = osp.join(root, 'checkpoints', 'latest_net_Back.pth')
    photos = sorted(p for p in (os.listdir(osp.join(root, 'rainy'))
                                if osp.isdir(osp.join(root, 'rainy')) else [])
                    if p.lower().endswith(('.jpg', '.png')))
    official = osp.isfile(ckpt) and photos and osp.isdir(osp.join(root, 'derained'))
    modes = [('fp32, TF32 off', 'fp32', False), ('fp32, torch defaults (cuDNN TF32 allowed)',
                                                 'fp32', True)]
    if not s.dry:
        modes.append(('fp16 autocast (opt-in)', 'fp16', True))
    rows = []
    if official:
        s.metrics['reference'] = 'authors\' outputs'
        net = load_generator(DecompositionGenerator(), ckpt, role='background')
        derainers = {label: Derainer(net, device=dev, precision=prec)
                     for label, prec, _ in modes}
        if s.dry:
            photos = photos[:1]
        worst = {label: 0 for label, _, _ in modes}
        for name in photos:
            rgb, _ = read_image(osp.join(root, 'rainy', name))
            ref_path = osp.join(root, 'derained', osp.splitext(name)[0] + '.png')
            ref = cv2.imread(ref_path)[:, :, ::-1]
            for label, _, allow in modes:
                with tf32(allow):
                    out = derainers[label](rgb)[0]
                st = grey_stats(out, ref)
                worst[label] = max(worst[label], st['max'])
                rows.append({'photo': name, 'path': label, 'size': f'{rgb.shape[1]}x{rgb.shape[0]}',
                             'max diff (grey)': st['max'], 'PSNR (dB)': round(st['psnr'], 1),
                             'pixels differing': f'{100 * st["differing"]:.3f} %'})
        s.table(f'G_B ({"CPU dry run" if s.dry else "CUDA"}) with the authors\' weights '
                'against their outputs', rows,
                ['authors\' test path: input in [-1, 1], B clamped, mapped to [0, 255] and '
                 'rounded'])
        if s.dry:
            s.notes.append('dry run: one photo, on the CPU')
        for label, _, _ in modes[:2]:
            s.check(f'{label}: every photo within 1 grey level of the authors\' outputs',
                    worst[label] <= 1, f'largest difference {worst[label]} grey level(s)')
        s.metrics['worst_grey'] = worst
        return
    s.metrics['reference'] = 'CPU fp32 (official files not found)'
    s.notes.append(f'the authors\' files were not found under {osp.abspath(root)}: CUDA is '
                   'compared with the CPU on random weights and inputs')
    torch.manual_seed(0)
    net = DecompositionGenerator()
    rng = np.random.default_rng(0)
    low = rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)
    photo = cv2.resize(low, (640, 384), interpolation=cv2.INTER_CUBIC)
    photo = np.clip(photo.astype(np.int32) + rng.integers(-20, 21, photo.shape), 0, 255)
    photo = photo.astype(np.uint8)
    if s.dry:
        photo = photo[:96, :160]
    ref = Derainer(net, device='cpu', tile=0)(photo)[0]
    worst = {}
    for label, prec, allow in modes:
        with tf32(allow):
            out = Derainer(net, device=dev, precision=prec)(photo)[0]
        st = grey_stats(out, ref)
        worst[label] = st['max']
        rows.append({'path': label, 'size': f'{photo.shape[1]}x{photo.shape[0]}',
                     'max diff (grey)': st['max'], 'PSNR (dB)': round(st['psnr'], 1)})
    s.table('G_B, random weights: CUDA against CPU fp32', rows)
    for label, _, _ in modes[:2]:
        s.check(f'{label}: within 1 grey level of the CPU', worst[label] <= 1,
                f'largest difference {worst[label]}')
    s.metrics['worst_grey'] = worst


# --------------------------------------------------------------------------- sampler
def _window(c: int, size: int, p: int, search: int):
    top, bottom = p // 2, p - p // 2
    lo = max(c - search // 2, top)
    hi = max(min(c + search - search // 2, size - bottom), c + 1)
    return lo, hi


def brute_force_topk(image, center, p: int = 16, search: int = 40, largest: bool = False):
    """All candidates of the window: anchor first, then by (float64 distance, raster index)."""
    import math
    img = image.double().cpu()
    _, height, width = img.shape
    top, bottom = p // 2, p - p // 2
    ch, cw = center
    anchor = img[:, ch - top:ch + bottom, cw - top:cw + bottom]
    (h0, h1), (w0, w1) = _window(ch, height, p, search), _window(cw, width, p, search)
    scored = []
    for h in range(h0, h1):
        for w in range(w0, w1):
            if (h, w) == (ch, cw):
                continue
            d = math.sqrt(float(((img[:, h - top:h + bottom, w - top:w + bottom] - anchor)**2)
                                .sum()))
            scored.append((-d if largest else d, h * width + w, (h, w)))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(ch, cw)] + [t[2] for t in scored]


def section_sampler(s: Section) -> None:
    import torch

    from nlcl_plugin.models.sampler import (nonlocal_topk, nonlocal_topk_batched,
                                            random_anchors)
    dev = device_name(s.dry)
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 17, 23), (4, 40, 40), (32, 256, 256), (64, 255, 255)]
    if s.dry:
        shapes = shapes[:2]
    rows, all_ok = [], True
    for shape in shapes:
        image = torch.randn(shape, generator=gen)
        _, height, width = shape
        top, bottom = 8, 8
        hs = sorted({top, height - bottom, (top + height - bottom) // 2})
        ws = sorted({top, width - bottom, (top + width - bottom) // 2})
        anchors = [(h, w) for h in hs for w in ws]
        if height >= 256:
            anchors = anchors[::4]
        checked = wrong = 0
        for largest in (False, True):
            for center in anchors:
                ref = brute_force_topk(image, center, largest=largest)
                for k in sorted({1, 8, 128, len(ref)}):
                    if k > len(ref):
                        continue
                    got = nonlocal_topk_batched(image[None].to(dev), torch.tensor([center], device=dev),
                                                k, largest=largest)[0]
                    checked += 1
                    wrong += [tuple(x) for x in got.cpu().tolist()] != ref[:k]
        all_ok &= wrong == 0
        rows.append({'map (C,H,W)': 'x'.join(map(str, shape)), 'anchors': len(anchors),
                     'searches compared': checked, 'different from reference': wrong})
    s.table(f'nonlocal_topk_batched on {dev} against a brute-force float64 reference '
            '(16x16 patches, 40x40 window; nearest and farthest; k = 1, 8, 128, all)', rows)
    s.check(f'every search on {dev} equals the reference (order included)', all_ok)

    # CUDA against CPU on the training sizes, batched, and the time of one search.
    cases = [((4, 32, 256, 256), 256), ((8, 64, 256, 256), 128), ((1, 3, 256, 256), 8)]
    if s.dry:
        cases = [((2, 8, 64, 64), 32)]
    rows, same_all = [], True
    for shape, k in cases:
        n, c, h, w = shape
        images = torch.randn(shape, generator=gen)
        centers = random_anchors(n, h, w, 16, gen)
        cpu = nonlocal_topk_batched(images, centers, k)
        x, cen = images.to(dev), centers.to(dev)
        out = nonlocal_topk_batched(x, cen, k)
        same = torch.equal(out.cpu(), cpu)
        same_all &= same
        for _ in range(3):
            nonlocal_topk_batched(x, cen, k)
        sync(dev)
        times = []
        for _ in range(5 if s.dry else 20):
            t0 = time.perf_counter()
            nonlocal_topk_batched(x, cen, k)
            sync(dev)
            times.append(time.perf_counter() - t0)
        rows.append({'input (N,C,H,W)': 'x'.join(map(str, shape)), 'k': k,
                     'same as CPU': 'yes' if same else 'NO',
                     'ms per call (median)': round(statistics.median(times) * 1e3, 3)})
    s.table(f'Batched search on {dev} against the CPU, training sizes', rows)
    s.check(f'batched search on {dev} returns the CPU\'s locations', same_all)
    # single-map entry point as well
    img = torch.randn(3, 64, 64, generator=gen)
    s.check('nonlocal_topk (one map) on the device equals the CPU',
            torch.equal(nonlocal_topk(img.to(dev), (30, 30), 16).cpu(),
                        nonlocal_topk(img, (30, 30), 16)))


# --------------------------------------------------------------------------- runner
def section_runner(s: Section) -> None:
    import warnings

    import torch
    from mmengine.hooks import Hook

    from nlcl_plugin.mmagic.runner_utils import build_runner

    class Recorder(Hook):
        priority = 'LOWEST'

        def __init__(self, device):
            self.device = device
            self.logs: List[Dict[str, float]] = []
            self.times: List[float] = []
            self.last = None

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            sync(self.device)
            self.last = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            sync(self.device)
            self.times.append(time.perf_counter() - self.last)
            self.logs.append({k: float(torch.as_tensor(v).float().mean())
                              for k, v in (outputs or {}).items()
                              if isinstance(v, (int, float, torch.Tensor))})

    dev = device_name(s.dry)
    iters = 3 if s.dry else (6 if s.quick else 12)
    crop = 32 if s.dry else 256
    rows = []
    for amp in (False, True):
        label = 'AMP (' + ('bf16' if s.dry else 'fp16') + ')' if amp else 'fp32'
        work = fresh_dir(f'runner_{"amp" if amp else "fp32"}')
        opts = demo_overrides(s.dry, crop)
        # every iteration a full one (D step, then G step): the config's D-only warm-up
        # would leave G untouched for its first 100 iterations
        opts.update({'train_cfg.max_iters': iters, 'default_hooks.checkpoint.interval': 10**6,
                     'default_hooks.checkpoint.save_last': False,
                     'model.train_cfg.disc_init_steps': 0})
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            runner = build_runner(osp.join(REPO, 'configs', 'nlcl_demo.py'), work_dir=work,
                                  cfg_options=opts, amp=amp)
        rec = Recorder(dev)
        runner.register_hook(rec, priority='LOWEST')
        model = runner.model
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        on_device = all(p.device.type == torch.device(dev).type for p in model.parameters())
        runner.train()
        wrappers = runner.optim_wrapper
        kinds = sorted({type(w).__name__ for w in wrappers.values()})
        cast = sorted({str(getattr(w, 'cast_dtype', None)) for w in wrappers.values()})
        scale = [float(w.loss_scaler.get_scale()) for w in wrappers.values()
                 if getattr(w, 'loss_scaler', None) is not None
                 and getattr(w.loss_scaler, 'is_enabled', lambda: True)()]
        # trainable parameters only: the layer loss's frozen heads never change by design
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        unchanged = [n for n, p in model.named_parameters()
                     if p.requires_grad and torch.equal(p.detach(), before[n])]
        finite = all(all(v == v and abs(v) != float('inf') for v in log.values())
                     for log in rec.logs)
        times = rec.times[1:] or rec.times
        rows.append({'precision': label, 'wrappers': '/'.join(kinds), 'autocast': '/'.join(cast),
                     'iterations': len(rec.logs),
                     'ms/iter (median after the first)': round(statistics.median(times) * 1e3, 1),
                     'loss_g (last)': round(rec.logs[-1].get('loss_g', float('nan')), 4),
                     'loss_d (last)': round(rec.logs[-1].get('loss_d', float('nan')), 4),
                     'parameters updated': f'{len(trainable) - len(unchanged)}/{len(trainable)}',
                     'final loss scale': '/'.join(f'{v:g}' for v in scale) or '-',
                     'peak mem': mib(torch.cuda.max_memory_allocated()
                                     if dev == 'cuda' else None)})
        s.check(f'{label}: model on {dev}', on_device)
        s.check(f'{label}: {iters} iterations ran, every logged loss finite',
                len(rec.logs) == iters and finite)
        s.check(f'{label}: every trainable parameter updated', not unchanged,
                f'not updated: {", ".join(unchanged[:8])}{" ..." if len(unchanged) > 8 else ""}'
                if unchanged else f'{len(trainable)} parameters')
        if amp:
            want = [['torch.bfloat16']] if s.dry else [['None'], ['torch.float16']]
            s.check(f'{label}: AmpOptimWrapper with {"bfloat16" if s.dry else "float16"} autocast',
                    kinds == ['AmpOptimWrapper'] and cast in want, f'{kinds}, cast {cast}')
        del runner, model, wrappers
        if dev == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    s.table(f'configs/nlcl_demo.py through mmengine\'s Runner, {crop}x{crop} crops, batch 1, '
            f'{dev}', rows, ['iteration time: data loading, both optimiser steps and hooks '
                             'included; the first iteration (warm-up) left out'])


# --------------------------------------------------------------------------- dist
#: An exception line of a traceback, optionally with torchrun's ``[rankN]:`` prefix.
_EXCEPTION_LINE = re.compile(r'^(?:\[rank(\d+)\]:\s*)?((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*'
                             r'(?:Error|Exception|Interrupt|Exit))(?::\s*(.*))?$')


def _dist_reason(text: str) -> str:
    """Why a ``dist_train.sh`` run failed, in one line, from its console output.

    Known causes first; else the exception of the rank torchrun names as the root cause
    (its ``Root Cause`` block), else the last exception any rank raised, else the last
    line before torchrun's failure banner. torchrun's own ``ChildFailedError`` and its
    banner (between lines of ``=``) never count as the reason.
    """
    patterns = [
        (r'invalid device ordinal', 'mmengine starts each rank with '
         'torch.cuda.set_device(LOCAL_RANK): rank 1 asks for GPU 1, which this machine lacks'),
        (r'Duplicate GPU detected', 'NCCL refuses two ranks on the same GPU '
         '("Duplicate GPU detected")'),
        (r'ncclInvalidUsage', 'NCCL reported invalid usage (ranks sharing a GPU)'),
        (r'NCCL error', 'NCCL error'),
        (r'out of memory', 'out of GPU memory'),
    ]
    for pat, reason in patterns:
        if re.search(pat, text, re.I):
            return reason
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    errors = []  # (rank or None, exception line without the rank prefix)
    for ln in lines:
        m = _EXCEPTION_LINE.match(ln.strip())
        if m and not m.group(2).endswith('ChildFailedError'):
            rank = int(m.group(1)) if m.group(1) is not None else None
            errors.append((rank, ln.strip()[m.start(2):][:300]))
    root = re.search(r'Root Cause[^\n]*\n(?:.*\n)*?\s*rank\s*:\s*(\d+)', text)
    if root:
        mine = [e for r, e in errors if r == int(root.group(1))]
        if mine:
            return f'rank {root.group(1)}: {mine[-1]}'
    if errors:
        rank, err = errors[-1]
        return err if rank is None else f'rank {rank}: {err}'
    banner = next((i for i, ln in enumerate(lines) if re.fullmatch(r'\s*=+\s*', ln)),
                  len(lines))
    plain = [ln.strip() for ln in lines[:banner]
             if re.search(r'[A-Za-z0-9]', ln) and 'ChildFailedError' not in ln]
    return plain[-1][:300] if plain else 'no output'


def section_dist(s: Section) -> None:
    import torch
    dev = device_name(s.dry)
    iters = 3 if s.dry else 20
    ngpu = torch.cuda.device_count() if not s.dry else 0
    runs = [(1, iters)]
    if not s.dry:
        runs.append((2, 10))
    else:
        s.notes.append('dry run: one gloo process only (two CPU processes are covered by '
                       'tests/test_distributed_mmagic.py)')
    rows = []
    for nproc, n_iter in runs:
        work = fresh_dir(f'dist_{nproc}')
        opts = demo_overrides(s.dry, None if not s.dry else 32)
        opts.update({'train_cfg.max_iters': n_iter,
                     'default_hooks.checkpoint.interval': n_iter})
        env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
                   OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1' if s.dry else '4'))
        cmd = ['bash', osp.join(REPO, 'tools', 'dist_train.sh'),
               osp.join(REPO, 'configs', 'nlcl_demo.py'), str(nproc), '--work-dir', work,
               '--cfg-options', *cli_options(opts)]
        log = osp.join(work, 'console.log')
        t0 = time.perf_counter()
        try:
            res = run_tool(cmd, log, timeout=150 if nproc == 1 else 90, env=env)
            code = res.returncode
        except subprocess.TimeoutExpired:
            code = 'timeout'
        seconds = time.perf_counter() - t0
        text = open(log, errors='replace').read() if osp.exists(log) else ''
        backend = re.findall(r"backend='(\w+)'", text)
        ckpt = osp.exists(osp.join(work, f'iter_{n_iter}.pth'))
        where = (f'{nproc} GPU(s)' if ngpu >= nproc else 'the same GPU') if not s.dry else 'CPU'
        row = {'processes': nproc, 'on': where, 'iterations': n_iter,
               'backend (config)': backend[-1] if backend else '?', 'exit status': code,
               'checkpoint written': 'yes' if ckpt else 'no', 'seconds (start-up included)':
               round(seconds, 1)}
        if nproc == 1:
            expect = 'gloo' if s.dry else 'nccl'
            ok = code == 0 and ckpt
            s.check(f'dist_train.sh, 1 process, {n_iter} iterations ({expect})',
                    ok and (not backend or backend[-1] == expect),
                    '' if ok else _dist_reason(text))
            row['note'] = '' if ok else _dist_reason(text)
        else:
            ok = code == 0 and ckpt
            if ok:
                row['note'] = 'ran'
                s.check(f'dist_train.sh, 2 processes on {where}', True)
            else:
                reason = _dist_reason(text)
                row['note'] = reason
                if ngpu >= 2:
                    s.check('dist_train.sh, 2 processes on 2 GPUs', False, reason)
                else:
                    s.notes.append(f'two processes on one GPU did not start: {reason} '
                                   '(reported, not a failure: NCCL needs one GPU per rank)')
        rows.append(row)
        shutil.rmtree(osp.join(work, 'vis_data'), ignore_errors=True)
    s.table('bash tools/dist_train.sh configs/nlcl_demo.py N (torchrun)', rows,
            [f'logs under {osp.relpath(WORK_ROOT, REPO)}/dist_N/console.log'])


# --------------------------------------------------------------------------- bench
def _load_benchmark():
    import importlib.util
    spec = importlib.util.spec_from_file_location('nlcl_benchmark',
                                                  osp.join(REPO, 'tools', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tables(s: Section, tables, prefix: str = '') -> None:
    for t in tables:
        s.table(prefix + t.title, t.rows, t.notes)


def _profile_step(bench, dev: str, size: int, amp: bool) -> Dict[str, Any]:
    """One training step under torch.profiler: kernels launched and GPU busy time."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    model, optims = bench.build_nlcl(torch.device(dev), amp)
    data = bench.nlcl_batch(1, size)
    for _ in range(2):
        model.train_step(data, optims)
    sync(dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == 'cuda' else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        model.train_step(data, optims)
        sync(dev)
        wall = time.perf_counter() - t0
    kernels, busy = 0, 0.0
    for evt in prof.key_averages():
        if 'CUDA' not in str(getattr(evt, 'device_type', '')):
            continue  # CPU-side events (operators, launches)
        t = getattr(evt, 'self_device_time_total', None)
        if t is None:
            t = getattr(evt, 'self_cuda_time_total', 0)
        kernels += evt.count
        busy += t / 1e6
    del model, optims
    return dict(wall_ms=wall * 1e3, kernels=kernels, gpu_busy_ms=busy * 1e3,
                busy_fraction=(busy / wall) if wall > 0 else 0.0)


def _infer_timing(bench_mod, dev: str, height: int, width: int, precision: str, repeats: int):
    import torch
    from nlcl_plugin.inference import Derainer
    net, label = bench_mod.background_generator(torch.device(dev))
    rgb, source = bench_mod.rgb_photo(height, width)
    derainer = Derainer(net, device=dev, precision=precision)
    if dev == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    times = bench_mod.time_runs(lambda: derainer(rgb), torch.device(dev), repeats, warmup=1)
    peak = torch.cuda.max_memory_allocated() if dev == 'cuda' else None
    return dict(ms=statistics.median(times) * 1e3, best_ms=min(times) * 1e3, peak=peak,
                weights=label, photo=source, tile=derainer.tile or 0)


def section_bench(s: Section) -> None:
    import torch
    bench = _load_benchmark()
    dev = device_name(s.dry)
    size = 64 if s.dry else 256
    batches = '1,2' if s.dry else '1,4,8'
    reps = 1 if s.dry else (3 if s.quick else 10)
    args = bench.parse_args(['--device', dev, '--section', 'train', '--amp', 'both',
                             '--train-size', str(size), '--train-batches', batches,
                             '--train-repeats', str(reps), '--throughput-repeats', str(reps)])
    tables = bench.SECTIONS['train'][2](args)
    _tables(s, tables)
    amp_label = 'AMP ' + ('bf16' if dev == 'cpu' else 'fp16')
    train = {}
    for t in tables:  # the throughput table: one row per precision and batch size
        for row in t.rows:
            if 'iter/s' in row and 'batch' in row:
                key = ('amp' if row['precision'] == amp_label else 'fp32', int(row['batch']))
                train[key] = dict(ms=1e3 / float(row['iter/s']),
                                  images_per_s=float(row['images/s']),
                                  peak=row.get('peak GPU mem', '-'))
            elif str(row.get('phase', '')).startswith('non-local searches'):
                key = 'amp' if 'AMP' in t.title else 'fp32'
                s.metrics.setdefault('search_ms', {})[key] = float(row['ms'])
    s.metrics['train'] = {f'{p}_b{b}': v for (p, b), v in train.items()}
    if (('amp', 1)) in train:
        s.metrics['amp_b1_ms'] = train[('amp', 1)]['ms']
        s.metrics['speedup_vs_authors'] = AUTHORS_ITER_S * 1e3 / train[('amp', 1)]['ms']
    b8 = [v['images_per_s'] for (p, b), v in train.items() if b == 8]
    if b8:
        s.metrics['b8_images_per_s'] = max(b8)
    s.check('training steps on the device ran for every batch size, fp32 and AMP',
            len(train) == 2 * len(batches.split(',')))

    # Where the time goes: GPU busy time of one AMP and one fp32 step (profiler).
    rows = []
    for amp in (True, False):
        try:
            prof = _profile_step(bench, dev, size, amp)
        except Exception as err:  # noqa: BLE001
            s.notes.append(f'profiler pass failed: {type(err).__name__}: {err}')
            break
        rows.append({'precision': amp_label if amp else 'fp32', 'step ms (profiled)':
                     round(prof['wall_ms'], 1), 'GPU kernels': prof['kernels'],
                     'GPU busy ms': round(prof['gpu_busy_ms'], 1),
                     'GPU busy %': round(100 * prof['busy_fraction'], 1)})
        s.metrics.setdefault('profile', {})['amp' if amp else 'fp32'] = prof
    if rows:
        s.table(f'One training step (batch 1, {size}x{size}) under torch.profiler', rows,
                ['GPU busy: summed device time of the kernels; a low share means the step '
                 'waits on the CPU (Python, kernel launches), not on the GPU'])

    # Inference: benchmark.py's comparison on 512x1024, then Derainer at 512x1024 and
    # 4000x3000 (whole image on the GPU), fp32 and fp16.
    iargs = bench.parse_args(['--device', dev, '--section', 'inference', '--infer-size',
                              '128x256' if s.dry else '512x1024', '--infer-repeats',
                              str(1 if s.dry else (3 if s.quick else 10))])
    _tables(s, bench.SECTIONS['inference'][2](iargs))
    sizes = [(128, 256), (300, 400)] if s.dry else [(512, 1024), (3000, 4000)]
    rows = []
    precisions = ['fp32'] + ([] if s.dry else ['fp16'])
    for height, width in sizes:
        for prec in precisions:
            r = _infer_timing(bench, dev, height, width, prec, 1 if s.dry else (3 if s.quick else 5))
            rows.append({'photo': f'{width}x{height}', 'precision': prec,
                         'ms (median)': round(r['ms'], 1), 'best ms': round(r['best_ms'], 1),
                         'Mpixel/s': width * height / 1e3 / r['ms'],
                         'peak GPU mem': mib(r['peak']), 'weights': r['weights']})
            s.metrics.setdefault('infer', {})[f'{width}x{height}_{prec}'] = r
    s.table(f'Derainer on {dev}: uint8 photo in, uint8 image out (transfers included), '
            'whole image', rows)
    big = s.metrics.get('infer', {}).get(f'{sizes[-1][1]}x{sizes[-1][0]}_fp32')
    if big and not s.dry:
        s.metrics['infer_12mp_s'] = big['ms'] / 1e3


# --------------------------------------------------------------------------- demo
def section_demo(s: Section) -> None:
    dev = device_name(s.dry)
    iters = s.args.demo_iters
    work = fresh_dir('demo')
    opts = {'train_cfg.max_iters': iters}
    if s.dry:
        opts.update(demo_overrides(True, 32))
        opts.update({'train_cfg.val_interval': 10**6, 'default_hooks.checkpoint.interval': iters})
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(REPO, 'configs', 'nlcl_demo.py'), '--work-dir', work, '--cfg-options',
           *cli_options(opts)]
    t0 = time.perf_counter()
    try:
        res = run_tool(cmd, osp.join(work, 'train.log'), timeout=200)
    except subprocess.TimeoutExpired:
        s.check(f'tools/train.py configs/nlcl_demo.py, {iters} iterations on {dev}', False,
                'stopped after 200 s')
        return
    train_s = time.perf_counter() - t0
    if not s.check(f'tools/train.py configs/nlcl_demo.py, {iters} iterations on {dev}',
                   res.returncode == 0, '' if res.returncode == 0 else
                   tail(osp.join(work, 'train.log'), 3).strip()):
        return
    t0 = time.perf_counter()
    try:
        res = run_tool([sys.executable, osp.join(REPO, 'tools', 'demo_report.py'),
                        osp.join(REPO, 'configs', 'nlcl_demo.py'), work],
                       osp.join(work, 'report.log'), timeout=120)
    except subprocess.TimeoutExpired:
        s.check('tools/demo_report.py on the demo test split', False, 'stopped after 120 s')
        return
    test_s = time.perf_counter() - t0
    report_path = osp.join(work, 'demo_report.json')
    if not s.check('tools/demo_report.py on the demo test split', res.returncode == 0
                   and osp.exists(report_path), '' if res.returncode == 0 else
                   tail(osp.join(work, 'report.log'), 3).strip()):
        return
    with open(report_path) as f:
        rep = json.load(f)
    cpu_ref = None
    try:
        with open(osp.join(REPO, 'results', 'demo_comparison.json')) as f:
            comp = json.load(f)
        for m in comp.get('methods', []):
            if m.get('config') == 'configs/nlcl_demo.py':
                cpu_ref = dict(m, hardware=comp.get('hardware', {}))
    except (OSError, ValueError):
        pass
    rows = [{'run': 'rainy input (no deraining)', 'iterations': '-',
             'PSNR (Y)': round(rep['input_psnr'], 2), 'SSIM (Y)': round(rep['input_ssim'], 4),
             'training s': '-'},
            {'run': f'NLCL, configs/nlcl_demo.py, this run ({dev})', 'iterations': iters,
             'PSNR (Y)': round(rep['psnr'], 2), 'SSIM (Y)': round(rep['ssim'], 4),
             'training s': round(train_s, 1)}]
    if cpu_ref:
        hw = cpu_ref['hardware']
        rows.append({'run': f'the same config, results/demo_comparison.json '
                     f'({hw.get("device", "CPU")}, {hw.get("torch", "")})',
                     'iterations': cpu_ref.get('iterations', '-'),
                     'PSNR (Y)': round(cpu_ref['psnr'], 2), 'SSIM (Y)': round(cpu_ref['ssim'], 4),
                     'training s': cpu_ref.get('train_seconds', '-')})
    s.table(f'Demo test split ({rep["images"]} paired images), PSNR / SSIM on the Y channel', rows,
            ['training s: wall time of tools/train.py (start-up, validation every 100 '
             'iterations and checkpoints included); the evaluation took '
             f'{test_s:.0f} s more. Same seed and config as the CPU run; GPU kernels are '
             'not bit-identical to the CPU\'s, so the numbers differ somewhat'])
    s.metrics.update(demo=dict(iterations=iters, train_seconds=train_s, **rep),
                     demo_cpu_reference=cpu_ref)


# --------------------------------------------------------------------------- compile
def section_compile(s: Section) -> None:
    import torch
    bench = _load_benchmark()
    dev = device_name(s.dry)
    height, width = (128, 192) if s.dry else (3000, 4000)
    net, label = bench.background_generator(torch.device(dev))
    rgb, _ = bench.rgb_photo(height, width)
    from nlcl_plugin.inference import image_to_tensor, tensor_to_image
    from nlcl_plugin.models.fast_ops import fast_paths
    x = image_to_tensor(rgb).contiguous().to(dev)
    rows = []
    for prec in (['fp32'] if s.dry else ['fp32', 'fp16']):
        ctx_dtype = torch.float16 if prec == 'fp16' else None

        def run(fn):
            with torch.inference_mode(), fast_paths(False):
                if ctx_dtype is None:
                    return fn(x)
                with torch.autocast('cuda', dtype=ctx_dtype):
                    return fn(x)
        eager = statistics.median(bench.time_runs(lambda: run(net), torch.device(dev), 3))
        compiled = torch.compile(net)
        t0 = time.perf_counter()
        run(compiled)
        sync(dev)
        compile_s = time.perf_counter() - t0
        comp = statistics.median(bench.time_runs(lambda: run(compiled), torch.device(dev), 3))
        diff = int(abs(tensor_to_image(run(compiled)).astype(int)
                       - tensor_to_image(run(net)).astype(int)).max())
        rows.append({'precision': prec, 'eager ms': round(eager * 1e3, 1),
                     'compiled ms': round(comp * 1e3, 1),
                     'first call (compile) s': round(compile_s, 1),
                     'max diff (grey)': diff})
    s.table(f'G_B forward ({label}, {width}x{height}, tensor on the device): eager vs '
            'torch.compile', rows)
    s.check('torch.compile of G_B runs', bool(rows))


SECTION_FNS = dict(env=section_env, parity=section_parity, sampler=section_sampler,
                   runner=section_runner, dist=section_dist, bench=section_bench,
                   demo=section_demo, compile=section_compile)


# --------------------------------------------------------------------------- child / parent
def run_child(args: argparse.Namespace) -> int:
    """Run one section in this process and write its result as JSON to --child-out."""
    s = Section(dry=args.allow_cpu, quick=args.quick, args=args)
    t0 = time.perf_counter()
    status = 'ok'
    try:
        import nlcl_plugin  # noqa: F401  (compat fixes before any host import)
        if args.allow_cpu:
            from nlcl_plugin.models.fast_ops import keep_freed_memory
            keep_freed_memory()
        os.makedirs(WORK_ROOT, exist_ok=True)
        SECTION_FNS[args.child](s)
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        status = 'error'
        s.notes.append(f'{type(err).__name__}: {err}'.strip()[:2000])
    if status == 'ok' and not all(c['ok'] for c in s.checks):
        status = 'failed'
    out = dict(s.result(), status=status, seconds=time.perf_counter() - t0)
    with open(args.child_out, 'w') as f:
        json.dump(out, f, indent=1, default=str)
    return 0


def run_section(name: str, args: argparse.Namespace, timeout: float) -> Dict[str, Any]:
    os.makedirs(WORK_ROOT, exist_ok=True)
    log = osp.join(WORK_ROOT, f'{name}.log')
    fd, out_json = tempfile.mkstemp(prefix=f'gpu_check_{name}_', suffix='.json')
    os.close(fd)
    cmd = [sys.executable, osp.abspath(__file__), '--child', name, '--child-out', out_json,
           '--demo-iters', str(args.demo_iters), '--official-dir', args.official_dir]
    cmd += ['--quick'] * args.quick + ['--allow-cpu'] * args.allow_cpu
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    t0 = time.perf_counter()
    print(f'[gpu_check] {name}: {SECTIONS[name][1]} (time box {timeout:.0f} s, log '
          f'{osp.relpath(log, REPO)})', flush=True)
    result: Dict[str, Any]
    try:
        with open(log, 'w') as f:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                code = None
        if code is None:
            result = dict(status='timeout', checks=[], tables=[], metrics={},
                          notes=[f'stopped after its time box of {timeout:.0f} s'])
        elif osp.getsize(out_json) > 0:
            with open(out_json) as f:
                result = json.load(f)
        else:
            result = dict(status='error', checks=[], tables=[], metrics={},
                          notes=[f'the section\'s process exited with status {code}'])
    finally:
        os.unlink(out_json)
    result['seconds'] = time.perf_counter() - t0
    if result['status'] in ('error', 'timeout'):
        result['log_tail'] = tail(log, 25)
    result['title'] = SECTIONS[name][1]
    result['log'] = osp.relpath(log, REPO)
    print(f'[gpu_check] {name}: {result["status"]} in {result["seconds"]:.0f} s', flush=True)
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    import signal
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()


def evaluate_targets(sections: Dict[str, Dict[str, Any]],
                     dry_run: bool = False) -> List[Dict[str, Any]]:
    """Targets met / missed / not measured, from the bench section's metrics (a dry run on
    the CPU is not compared with them)."""
    m = sections.get('bench', {}).get('metrics', {})
    out = []
    for key, what, goal in TARGETS:
        value = m.get(key)
        if value is None or dry_run:
            out.append(dict(key=key, what=what, goal=goal, value=None, measured='not measured',
                            result='not measured'))
            continue
        if key == 'amp_b1_ms':
            text, met = f'{value:.1f} ms', value <= 40
        elif key == 'speedup_vs_authors':
            text, met = f'{value:.1f}x', value >= 30
        elif key == 'b8_images_per_s':
            text, met = f'{value:.0f} images/s', value >= 150
        else:
            text, met = f'{value:.2f} s', value <= 1.0
        out.append(dict(key=key, what=what, goal=goal, value=value, measured=text,
                        result='met' if met else 'missed'))
    return out


def why_missed(sections: Dict[str, Dict[str, Any]]) -> List[str]:
    """Hints for missed training targets, from the profiler pass and the breakdown."""
    m = sections.get('bench', {}).get('metrics', {})
    hints = []
    prof = m.get('profile', {}).get('amp')
    if prof and prof.get('kernels'):
        busy = prof.get('busy_fraction', 0)
        hints.append(f'AMP step: {prof.get("kernels", 0)} GPU kernels, GPU busy '
                     f'{100 * busy:.0f} % of {prof.get("wall_ms", 0):.1f} ms' +
                     (': the step waits on the CPU (Python and kernel launches); CUDA graphs '
                      'or torch.compile target this' if busy < 0.6 else
                      ': the GPU is busy, so the kernels themselves (memory-bound '
                      'normalisations, convolutions) set the time'))
    search = m.get('search_ms', {}).get('amp')
    step = m.get('amp_b1_ms')
    if search is not None and step:
        hints.append(f'the four non-local searches: {search:.1f} ms of the AMP step '
                     f'({100 * search / step:.0f} %, timed with a synchronisation per phase)')
    return hints


def render_markdown(report: Dict[str, Any]) -> str:
    """The report as markdown: summary, targets, then every section's checks and tables."""
    lines = ['# GPU check', '']
    env = report.get('sections', {}).get('env', {}).get('metrics', {}).get('info', {})
    hw = env.get('GPU') or report.get('gpu') or ('CPU (dry run)' if report.get('dry_run')
                                                  else 'unknown GPU')
    driver = env.get('driver (nvidia-smi)')
    lines.append(f'`{report.get("command", "python tools/gpu_check.py")}` on '
                 f'{report.get("date", "?")}: {hw}, torch '
                 f'{env.get("torch") or report.get("torch") or "?"} (CUDA '
                 f'{env.get("torch CUDA") or report.get("torch_cuda") or "-"})'
                 f'{", driver " + driver if driver else ""}; '
                 f'{report.get("total_seconds", 0):.0f} s.')
    lines.append('')
    for key, value in (report.get('provenance') or {}).items():
        lines.append(f'- {key}: {value}')
    if report.get('provenance'):
        lines.append('')
    if report.get('dry_run'):
        lines += ['**Dry run on the CPU with tiny sizes (`--allow-cpu`): these are not GPU '
                  'numbers.**', '']
    lines += ['| section | status | seconds | checks passed |', '| --- | --- | ---: | ---: |']
    for name, sec in report.get('sections', {}).items():
        checks = sec.get('checks', [])
        lines.append(f'| {name}: {sec.get("title", "")} | {sec.get("status")} | '
                     f'{sec.get("seconds", 0):.0f} | '
                     f'{sum(c["ok"] for c in checks)}/{len(checks)} |')
    lines.append('')
    targets = report.get('targets', [])
    if targets:
        lines += ['## Targets', '', '| target | goal | measured | result |',
                  '| --- | --- | ---: | --- |']
        for t in targets:
            res = t['result']
            lines.append(f'| {t["what"]} | {t["goal"]} | {t["measured"]} | '
                         f'{"**" + res + "**" if res == "missed" else res} |')
        lines.append('')
        for hint in report.get('why', []):
            lines.append(f'- {hint}')
        if report.get('why'):
            lines.append('')
    for name, sec in report.get('sections', {}).items():
        lines += [f'## {name}: {sec.get("title", "")}', '']
        for c in sec.get('checks', []):
            mark = 'ok' if c['ok'] else '**FAILED**'
            lines.append(f'- {mark}: {c["name"]}' + (f' ({c["detail"]})' if c.get('detail') else ''))
        for n in sec.get('notes', []):
            lines.append(f'- note: {n}')
        if sec.get('checks') or sec.get('notes'):
            lines.append('')
        for t in sec.get('tables', []):
            lines += [f'**{t["title"]}**', '']
            rows = t.get('rows', [])
            if rows:
                cols = list(rows[0])
                lines.append('| ' + ' | '.join(cols) + ' |')
                lines.append('| ' + ' | '.join('---' for _ in cols) + ' |')
                for r in rows:
                    lines.append('| ' + ' | '.join(str(r.get(c, '')).replace('|', '/')
                                                   for c in cols) + ' |')
            else:
                lines.append('(no rows)')
            for n in t.get('notes', []):
                lines += ['', n]
            lines.append('')
        if sec.get('log_tail'):
            lines += ['```', sec['log_tail'].rstrip(), '```', '']
    return '\n'.join(lines).rstrip() + '\n'


def git_commit() -> Optional[str]:
    """The repository's commit (short hash, ``+changes`` when tracked files differ from
    it), or None outside a git checkout."""
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO,
                              capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + (' +changes' if dirty.stdout.strip() else '')


def provenance(args: argparse.Namespace) -> Dict[str, str]:
    """Where the report comes from: the project's commit and the authors' files used."""
    out = {}
    commit = git_commit()
    if commit:
        out['commit'] = commit
    out['authors\' files'] = (osp.abspath(args.official_dir)
                              if osp.isdir(args.official_dir) else 'not found')
    return out


def write_report(report: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(json=osp.join(out_dir, 'gpu_check.json'), md=osp.join(out_dir, 'gpu_check.md'))
    with open(paths['json'], 'w') as f:
        json.dump(report, f, indent=1, default=str)
        f.write('\n')
    with open(paths['md'], 'w') as f:
        f.write(render_markdown(report))
    return paths


def exit_status(report: Dict[str, Any]) -> int:
    return 0 if all(s.get('status') == 'ok' for s in report['sections'].values()) else 1


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    if not args.allow_cpu:
        why = cuda_status()
        if why is not None:
            print(f'gpu_check: CUDA is not available: {why} (--allow-cpu: dry run on the CPU)',
                  file=sys.stderr)
            return 2
    start = time.perf_counter()
    deadline = start + args.budget
    import torch
    report: Dict[str, Any] = dict(
        date=datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), torch=torch.__version__,
        torch_cuda=torch.version.cuda,
        gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        command=' '.join(['python tools/gpu_check.py', *(argv if argv is not None
                                                          else sys.argv[1:])]).strip(),
        dry_run=bool(args.allow_cpu), quick=bool(args.quick), budget_s=args.budget,
        provenance=provenance(args), sections={})
    for name in args.section_list:
        box = SECTIONS[name][0] * (3 if args.allow_cpu else 1)
        left = deadline - time.perf_counter()
        if left < 10:
            report['sections'][name] = dict(status='skipped', title=SECTIONS[name][1],
                                            checks=[], tables=[], metrics={}, seconds=0,
                                            notes=['the overall --budget was used up'])
            continue
        report['sections'][name] = run_section(name, args, min(box, left))
    report['total_seconds'] = time.perf_counter() - start
    report['targets'] = evaluate_targets(report['sections'], args.allow_cpu) if 'bench' in \
        report['sections'] else []
    report['why'] = [] if args.allow_cpu else why_missed(report['sections'])
    paths = write_report(report, args.out)
    print(render_markdown(report))
    print(f'[gpu_check] wrote {paths["json"]} and {paths["md"]}')
    return exit_status(report)


if __name__ == '__main__':
    sys.exit(main())
