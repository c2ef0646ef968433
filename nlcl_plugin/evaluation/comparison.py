"""The demo comparison: its methods, and the results over seeds that make a table row.

:data:`METHODS` lists every method ``tools/compare_demo.py`` trains (name -> label,
config, supervised?); :func:`aggregate` turns one method's per-seed results into its row
of ``results/demo_comparison.json`` (means, sample standard deviations, per-seed values,
per rain kind), which :mod:`.model_zoo` renders. The helpers below give the training
command of one run, the threads of concurrent runs and the machine the runs used.
"""
import datetime
import os
import os.path as osp
import platform
import re
import sys
from typing import Dict, List, Optional, Sequence

__all__ = ['METHODS', 'HOST_MODELS', 'COMPLEXITY_SIZE', 'FIGURE_NLCL', 'FIGURE_SUPERVISED',
           'DEFAULT_SEEDS', 'visible_cores',
           'threads_per_job', 'job_env', 'sample_std', 'hardware', 'logged_train_seconds',
           'seed_work_dir', 'train_command', 'per_kind_over_seeds', 'aggregate',
           'model_complexity', 'comparison_figure']

#: name -> (label, config relative to the repository, supervised?)
METHODS = {
    'nlcl_recommended': ('NLCL, recommended (asymmetric layer loss, G_B removes a learned '
                         'share of the streak light and a smooth veil, frozen layer heads, '
                         'location loss 0.1, D without norm on the grey detail layer, '
                         'D warm-up, moving average of G)',
                         'configs/nlcl_demo.py', False),
    'nlcl_instance_norm_d': ("NLCL, recommended but the paper's D (instance norm, "
                             'no warm-up)',
                             'configs/demo/nlcl_demo_instance_norm_d.py', False),
    'nlcl_no_streak_light': ('NLCL, recommended before the streak light (G_B a free '
                             'residual, D on the grey tone and detail layer, gain 0.02)',
                             'configs/demo/nlcl_demo_no_streak_light.py', False),
    'nlcl_symmetric_layer': ('NLCL, recommended but the symmetric (CVPR) layer loss',
                             'configs/demo/nlcl_demo_symmetric_layer.py', False),
    'nlcl_no_ema': ('NLCL, recommended but the raw generators (no moving average)',
                    'configs/demo/nlcl_demo_no_ema.py', False),
    'nlcl_identity': ('NLCL, recommended plus the identity loss on the clean image',
                      'configs/demo/nlcl_demo_identity.py', False),
    'nlcl_rain_transplant': ('NLCL, recommended plus the rain transplant loss',
                             'configs/demo/nlcl_demo_rain_transplant.py', False),
    'nlcl_options_off': ('NLCL, asymmetric layer loss, options beyond the paper off',
                         'configs/demo/nlcl_demo_options_off.py', False),
    'nlcl_learned_heads': ('NLCL, recommended but learned layer heads (paper)',
                           'configs/demo/nlcl_demo_learned_heads.py', False),
    'nlcl_no_layer_loss': ('NLCL, recommended without the layer loss',
                           'configs/demo/nlcl_demo_no_layer_loss.py', False),
    'nlcl_random_sampling': ('NLCL, recommended with random instead of non-local sampling',
                             'configs/demo/nlcl_demo_random_sampling.py', False),
    'nlcl_cvpr_symmetric': ("NLCL, symmetric layer loss (CVPR), authors' settings",
                            'configs/demo/nlcl_demo_cvpr_symmetric.py', False),
    'nlcl_official_legacy': ('NLCL, released code incl. defects D1-D3',
                             'configs/demo/nlcl_demo_official_legacy.py', False),
    'supervised_l1': ('Same G_B, supervised (L1 on paired data)',
                      'configs/demo/supervised_demo.py', True),
    # MMagic's own models (configs/zoo/), sized for a CPU, on the same data and test split
    'restormer': ("MMagic's Restormer (width 16, one block per level), supervised (L1 on "
                  'paired data)', 'configs/zoo/restormer_demo.py', True),
    'nafnet': ("MMagic's NAFNet (width 16, one block per level), supervised (PSNR loss on "
               'paired data)', 'configs/zoo/nafnet_demo.py', True),
    'cyclegan': ("MMagic's CycleGAN (ResNet generators of width 32 with 4 blocks), unpaired",
                 'configs/zoo/cyclegan_demo.py', False),
}
#: The host's models among :data:`METHODS`: name -> their collection (paper) in the
#: metafile; the other methods are NLCL's.
HOST_MODELS = {'restormer': 'Restormer', 'nafnet': 'NAFNet', 'cyclegan': 'CycleGAN'}
FIGURE_NLCL = 'nlcl_recommended'
FIGURE_SUPERVISED = 'supervised_l1'
DEFAULT_SEEDS = (0, 1, 2)


def visible_cores() -> int:
    """CPUs this process may run on (its affinity mask where supported)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_job(jobs: int, cores: int) -> int:
    """Threads each of ``jobs`` concurrent runs gets on ``cores`` CPUs (at least 1)."""
    if jobs < 1:
        raise ValueError(f'jobs must be >= 1, got {jobs}')
    return max(1, cores // jobs)


def job_env(jobs: int, cores: int, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Environment of one of ``jobs`` concurrent runs: ``base`` (default ``os.environ``)
    with ``OMP_NUM_THREADS`` set to :func:`threads_per_job`."""
    env = dict(os.environ if base is None else base)
    env['OMP_NUM_THREADS'] = str(threads_per_job(jobs, cores))
    return env


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1) of ``values``; 0.0 for a single value."""
    n = len(values)
    if n == 0:
        raise ValueError('no values')
    if n == 1:
        return 0.0
    mean = sum(values) / n
    return (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5


def hardware() -> dict:
    """CPU model, core count, torch version and the device the runs used; ``cpu_description``
    adds the instruction sets (``nlcl_plugin.hardware.describe_cpu``) where available."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'
    info = dict(cpu=cpu, cores=os.cpu_count(), device=device, torch=torch.__version__,
                python=platform.python_version())
    try:
        from ..hardware import describe_cpu
    except ImportError:
        pass
    else:
        info['cpu_description'] = describe_cpu()
    return info



def logged_train_seconds(log_path: str, iters: int) -> Optional[float]:
    """Training time recorded in a ``train.log`` (first log line to the final save)."""
    stamps, end = [], None
    try:
        with open(log_path) as f:
            for line in f:
                m = re.match(r'(\d\d/\d\d \d\d:\d\d:\d\d) - mmengine', line)
                if not m:
                    continue
                stamp = datetime.datetime.strptime(m.group(1), '%m/%d %H:%M:%S')
                stamps.append(stamp)
                if f'Saving checkpoint at {iters} iterations' in line:
                    end = stamp
    except OSError:
        return None
    if not stamps or end is None:
        return None
    return (end - stamps[0]).total_seconds()


def seed_work_dir(work_root: str, name: str, seed: int) -> str:
    """Work directory of one training run: ``WORK_ROOT/NAME/seedS``."""
    return osp.join(work_root, name, f'seed{seed}')


def train_command(config: str, work: str, iters: int, seed: int) -> List[str]:
    """``tools/train.py`` command line of one run (``iters`` iterations, one final
    validation and checkpoint, ``randomness.seed=seed``)."""
    return [sys.executable, 'tools/train.py', config, '--work-dir', work,
            '--cfg-options', f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={iters}', f'randomness.seed={seed}']


def per_kind_over_seeds(per_seed: List[dict]) -> dict:
    """Per rain kind, each metric's mean, sample standard deviation and per-seed values
    over the seeds (``{kind: {metric: mean, metric_std: ..., metric_per_seed: [...],
    images: n}}``); empty unless every seed has the same kinds."""
    kinds = list(per_seed[0]) if per_seed else []
    if not kinds or any(list(p) != kinds for p in per_seed):
        return {}
    out = {}
    for kind in kinds:
        first = per_seed[0][kind]
        entry = dict(images=first['images'])
        for key in (k for k in first if k != 'images'):
            values = [float(p[kind][key]) for p in per_seed]
            entry[key] = sum(values) / len(values)
            entry[f'{key}_std'] = sample_std(values)
            entry[f'{key}_per_seed'] = values
        out[kind] = entry
    return out


def aggregate(name: str, per_seed_rows: List[dict]) -> dict:
    """One method's results row from its per-seed rows (see :func:`train_and_evaluate`).

    The row has the method's ``name``, ``label``, ``config`` and ``supervised`` flag,
    ``seeds``, ``psnr`` / ``ssim`` (means over seeds), ``psnr_std`` / ``ssim_std``
    (sample standard deviations, ddof=1; 0 for a single seed), ``psnr_per_seed`` /
    ``ssim_per_seed``, ``checkpoint`` (the first seed's) and ``checkpoints``,
    ``test_images``, ``input_psnr`` / ``input_ssim`` (the rainy input, the same for
    every seed), where every seed has them ``detail_removed`` / ``base_removed`` /
    ``detail_projection`` (means) with ``_std`` and ``_per_seed``, where the test images
    have rain kinds ``per_kind`` (:func:`per_kind_over_seeds`) and ``input_per_kind`` (the
    rainy input's scores per kind), and, where the runs' times are known,
    ``train_seconds`` (mean time of one run), ``train_seconds_total`` and
    ``train_seconds_per_seed``; for the host's models, ``collection``
    (:data:`HOST_MODELS`).
    """
    if not per_seed_rows:
        raise ValueError(f'{name}: no per-seed results')
    label, config, supervised = METHODS[name]
    psnrs = [float(r['psnr']) for r in per_seed_rows]
    ssims = [float(r['ssim']) for r in per_seed_rows]
    first = per_seed_rows[0]
    row = dict(name=name, label=label, config=config, supervised=supervised,
               iterations=first['iterations'], seeds=[r['seed'] for r in per_seed_rows],
               checkpoint=first['checkpoint'],
               checkpoints=[r['checkpoint'] for r in per_seed_rows],
               psnr=sum(psnrs) / len(psnrs), psnr_std=sample_std(psnrs),
               ssim=sum(ssims) / len(ssims), ssim_std=sample_std(ssims),
               psnr_per_seed=psnrs, ssim_per_seed=ssims, test_images=first['images'],
               input_psnr=first['input_psnr'], input_ssim=first['input_ssim'])
    if name in HOST_MODELS:
        row['collection'] = HOST_MODELS[name]
    for key in ('detail_removed', 'base_removed', 'detail_projection'):
        values = [r.get(key) for r in per_seed_rows]
        if all(v is not None for v in values):
            values = [float(v) for v in values]
            row[key] = sum(values) / len(values)
            row[f'{key}_std'] = sample_std(values)
            row[f'{key}_per_seed'] = values
    per_kind = per_kind_over_seeds([r.get('per_kind') or {} for r in per_seed_rows])
    if per_kind:
        row['per_kind'] = per_kind
        row['input_per_kind'] = first.get('input_per_kind') or {}
    times = [r.get('train_seconds') for r in per_seed_rows]
    known = [t for t in times if t is not None]
    if known:
        row['train_seconds'] = round(sum(known) / len(known), 1)
        row['train_seconds_total'] = round(sum(known), 1)
        row['train_seconds_per_seed'] = times
    return row


#: Side of the square input at which :func:`model_complexity` counts.
COMPLEXITY_SIZE = 256


def model_complexity(config: str, size: int = COMPLEXITY_SIZE) -> dict:
    """Parameters and multiply-accumulates of the network that derains in the model of
    ``config`` (NLCL's and MMagic's editing models' generator, for NLCL G_B; CycleGAN's
    rainy -> clean generator) on one ``size`` x ``size`` RGB image.

    The count is mmengine's ``get_model_complexity_info``: convolutions, transposed
    convolutions, linear layers and matrix products (one per multiply-accumulate) and
    the normalisation layers it knows (``nn.InstanceNorm2d``: 4 per value); other
    element-wise operations, activations and custom layers are not counted.

    Returns:
        dict: ``params`` and ``macs`` (ints) and ``macs_size`` (``size``).
    """
    import logging

    import torch
    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope

    from ..mmagic.runner_utils import load_config
    from ..mmagic.zoo import deraining_network
    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope('mmagic'):
        from mmagic.registry import MODELS
        net = deraining_network(MODELS.build(cfg.model)).eval()
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # one warning per operator it does not count
    try:
        with torch.no_grad():
            info = get_model_complexity_info(net, input_shape=(3, size, size),
                                             show_table=False, show_arch=False)
    finally:
        logger.setLevel(level)
    return dict(params=int(info['params']), macs=int(info['flops']), macs_size=size)


def comparison_figure(rows: List[dict], test_root: str, path: str, num: int = 3,
                      root: Optional[str] = None) -> Optional[str]:
    """rainy | NLCL B | NLCL R | supervised | each host model among ``rows`` | clean, one
    test image per row (the first seed's checkpoints, relative to ``root``: the
    project's folder by default); None (and a note) without the NLCL and supervised
    rows."""
    import cv2
    import numpy as np

    from ..image_io import read_image, write_image
    from ..inference import Derainer
    from ..mmagic.runner_utils import load_config
    from .report import derainer_for
    root = root or osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    by_name = {r['name']: r for r in rows}
    if FIGURE_NLCL not in by_name or FIGURE_SUPERVISED not in by_name:
        print(f'figure skipped: needs {FIGURE_NLCL} and {FIGURE_SUPERVISED}')
        return None
    nlcl = Derainer.from_checkpoints(osp.join(root, by_name[FIGURE_NLCL]['checkpoint']),
                                     with_rain=True)
    sup = Derainer.from_checkpoints(osp.join(root, by_name[FIGURE_SUPERVISED]['checkpoint']))
    hosts = [(HOST_MODELS[n], derainer_for(load_config(osp.join(root, by_name[n]['config'])),
                                           osp.join(root, by_name[n]['checkpoint'])))
             for n in HOST_MODELS if n in by_name]
    names = sorted(os.listdir(osp.join(test_root, 'input')))
    picks = [names[int(i)] for i in np.linspace(0, len(names) - 1, min(num, len(names)))]
    titles = ['rainy input', 'NLCL background', 'NLCL rain layer', 'supervised'] + \
        [label for label, _ in hosts] + ['clean']
    lines = []
    for name in picks:
        rainy, _ = read_image(osp.join(test_root, 'input', name))
        clean, _ = read_image(osp.join(test_root, 'target', name))
        bg, rain = nlcl(rainy)
        sup_bg, _ = sup(rainy)
        lines.append(np.concatenate([rainy, bg, rain, sup_bg] +
                                    [derainer(rainy)[0] for _, derainer in hosts] + [clean],
                                    axis=1))
    grid = np.concatenate(lines, axis=0)
    width = grid.shape[1] // len(titles)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(header, title, (i * width + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.concatenate([header, grid], axis=0))
    return path

