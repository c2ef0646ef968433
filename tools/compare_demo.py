#!/usr/bin/env python
"""Compare NLCL variants and a supervised reference on the built-in demo benchmark.

    python tools/compare_demo.py [--iters 300] [--work-dir work_dirs/demo_comparison]
        [--out results/demo_comparison.json] [--figure docs/figures/demo_comparison.jpg]
        [--only NAME ...] [--reuse]

Each method is trained with ``tools/train.py`` on the demo data (same crop, optimiser,
schedule and seed), then evaluated with ``tools/demo_report.py`` (MMagic's PSNR/SSIM on
the Y channel over the paired demo test split, through ``Runner.test``). The rainy input
itself is the first row. Results land in one JSON file, from which
``tools/model_zoo.py`` writes the README table and ``configs/metafile.yml``; the figure
shows rainy | NLCL B | NLCL R | supervised | clean for a few test images.

Methods (``--only`` takes these names):

* ``nlcl_tpami_asymmetric``: ``configs/nlcl_demo.py`` (the TPAMI asymmetric layer loss);
* ``nlcl_cvpr_symmetric``: ``configs/demo/nlcl_demo_cvpr_symmetric.py``;
* ``nlcl_official_legacy``: ``configs/demo/nlcl_demo_official_legacy.py`` (defects D1-D3);
* ``nlcl_random_sampling``: ``configs/demo/nlcl_demo_random_sampling.py`` (ablation);
* ``supervised_l1``: ``configs/demo/supervised_demo.py`` (G_B trained on the paired
  rainy/clean crops: the upper bound of an unsupervised method).
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

import nlcl_plugin  # noqa: E402,F401

#: name -> (label, config relative to the repository, supervised?)
METHODS = {
    'nlcl_tpami_asymmetric': ('NLCL, asymmetric layer loss (TPAMI)', 'configs/nlcl_demo.py', False),
    'nlcl_cvpr_symmetric': ('NLCL, symmetric layer loss (CVPR)',
                            'configs/demo/nlcl_demo_cvpr_symmetric.py', False),
    'nlcl_official_legacy': ('NLCL, released code incl. defects D1-D3',
                             'configs/demo/nlcl_demo_official_legacy.py', False),
    'nlcl_random_sampling': ('NLCL ablation: random instead of non-local sampling',
                             'configs/demo/nlcl_demo_random_sampling.py', False),
    'supervised_l1': ('Same G_B, supervised (L1 on paired data)',
                      'configs/demo/supervised_demo.py', True),
}
FIGURE_NLCL = 'nlcl_tpami_asymmetric'
FIGURE_SUPERVISED = 'supervised_l1'


def hardware() -> dict:
    """CPU model, core count, torch version and the device the runs used."""
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
    return dict(cpu=cpu, cores=os.cpu_count(), device=device, torch=torch.__version__,
                python=platform.python_version())


def run(cmd: List[str], log_path: str) -> float:
    """Run ``cmd`` from the repository root, output to ``log_path``; seconds taken."""
    start = time.time()
    with open(log_path, 'w') as log:
        res = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {res.returncode}); log: {log_path}\n'
                           f'{tail}')
    return time.time() - start


def logged_train_seconds(log_path: str, iters: int) -> Optional[float]:
    """Training time recorded in a ``train.log`` (first log line to the final save)."""
    import re
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


def train_and_evaluate(name: str, iters: int, work_root: str, reuse: bool) -> dict:
    label, config, supervised = METHODS[name]
    work = osp.join(work_root, name)
    os.makedirs(work, exist_ok=True)
    ckpt = osp.join(work, f'iter_{iters}.pth')
    train_seconds = None
    if not (reuse and osp.isfile(ckpt)):
        print(f'[{name}] training {iters} iterations: {config}', flush=True)
        train_seconds = run([sys.executable, 'tools/train.py', config, '--work-dir', work,
                             '--cfg-options', f'train_cfg.max_iters={iters}',
                             f'train_cfg.val_interval={iters}',
                             f'default_hooks.checkpoint.interval={iters}'],
                            osp.join(work, 'train.log'))
    print(f'[{name}] evaluating {ckpt}', flush=True)
    run([sys.executable, 'tools/demo_report.py', config, work, '--checkpoint', ckpt],
        osp.join(work, 'test.log'))
    with open(osp.join(work, 'demo_report.json')) as f:
        report = json.load(f)
    row = dict(name=name, label=label, config=config, supervised=supervised,
               iterations=iters, checkpoint=osp.relpath(ckpt, REPO),
               psnr=report['psnr'], ssim=report['ssim'],
               input_psnr=report['input_psnr'], input_ssim=report['input_ssim'],
               test_images=report['images'])
    if train_seconds is None:  # --reuse: the time the earlier run logged
        train_seconds = logged_train_seconds(osp.join(work, 'train.log'), iters)
    if train_seconds is not None:
        row['train_seconds'] = round(train_seconds, 1)
    print(f'[{name}] PSNR {row["psnr"]:.3f}  SSIM {row["ssim"]:.4f}', flush=True)
    return row


def make_figure(rows: List[dict], test_root: str, path: str, num: int = 3) -> Optional[str]:
    """rainy | NLCL B | NLCL R | supervised | clean, one test image per row."""
    import cv2

    from nlcl_plugin.image_io import read_image, write_image
    from nlcl_plugin.inference import Derainer
    by_name = {r['name']: r for r in rows}
    if FIGURE_NLCL not in by_name or FIGURE_SUPERVISED not in by_name:
        print(f'figure skipped: needs {FIGURE_NLCL} and {FIGURE_SUPERVISED}')
        return None
    nlcl = Derainer.from_checkpoints(osp.join(REPO, by_name[FIGURE_NLCL]['checkpoint']),
                                     with_rain=True)
    sup = Derainer.from_checkpoints(osp.join(REPO, by_name[FIGURE_SUPERVISED]['checkpoint']))
    names = sorted(os.listdir(osp.join(test_root, 'input')))
    picks = [names[int(i)] for i in np.linspace(0, len(names) - 1, min(num, len(names)))]
    titles = ['rainy input', 'NLCL background', 'NLCL rain layer', 'supervised', 'clean']
    lines = []
    for name in picks:
        rainy, _ = read_image(osp.join(test_root, 'input', name))
        clean, _ = read_image(osp.join(test_root, 'target', name))
        bg, rain = nlcl(rainy)
        sup_bg, _ = sup(rainy)
        lines.append(np.concatenate([rainy, bg, rain, sup_bg, clean], axis=1))
    grid = np.concatenate(lines, axis=0)
    width = grid.shape[1] // len(titles)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(header, title, (i * width + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.concatenate([header, grid], axis=0))
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=300, help='training iterations per method')
    p.add_argument('--work-dir', default='work_dirs/demo_comparison')
    p.add_argument('--out', default='results/demo_comparison.json')
    p.add_argument('--figure', default='docs/figures/demo_comparison.jpg')
    p.add_argument('--only', nargs='+', choices=sorted(METHODS), help='methods to run')
    p.add_argument('--reuse', action='store_true',
                   help='evaluate existing checkpoints instead of training again')
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')

    from mmengine.config import Config

    from nlcl_plugin.data import prepare_demo_data
    paths = prepare_demo_data(osp.join(REPO, 'data', 'nlcl_demo'))
    work_root = osp.abspath(args.work_dir)
    names = args.only or list(METHODS)
    start = time.time()
    rows = [train_and_evaluate(n, args.iters, work_root, args.reuse) for n in names]
    first = rows[0]
    result = dict(
        benchmark='nlcl_demo',
        description=('Built-in demo benchmark: synthetic rain rendered on scikit-image '
                     'photographs; unpaired training split, paired test split'),
        date=datetime.date.today().isoformat(),
        command='python tools/compare_demo.py ' + ' '.join(argv if argv is not None
                                                            else sys.argv[1:]),
        iterations=args.iters,
        batch_size=1,
        crop_size=int(Config.fromfile(osp.join(REPO, METHODS[names[0]][1])).crop_size),
        data=dict(train_rainy=len(os.listdir(paths['train_rainy'])),
                  train_clean=len(os.listdir(paths['train_clean'])),
                  train_pairs_supervised=len(os.listdir(paths['train_target'])),
                  test_pairs=first['test_images']),
        metrics='PSNR / SSIM on the Y channel (MMagic), mean over the demo test split',
        hardware=hardware(),
        total_seconds=round(time.time() - start, 1),
        input=dict(psnr=first['input_psnr'], ssim=first['input_ssim']),
        methods=[{k: v for k, v in r.items() if not k.startswith('input_')} for r in rows],
    )
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'results written to {args.out}')
    figure = make_figure(rows, paths['test'], args.figure)
    if figure:
        print(f'figure written to {figure}')
    print(f'{"method":<55} {"PSNR":>8} {"SSIM":>7}')
    print(f'{"rainy input":<55} {result["input"]["psnr"]:8.3f} {result["input"]["ssim"]:7.4f}')
    for r in rows:
        print(f'{r["label"]:<55} {r["psnr"]:8.3f} {r["ssim"]:7.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
