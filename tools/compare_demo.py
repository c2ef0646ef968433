#!/usr/bin/env python
"""Compare NLCL variants, a supervised reference and MMagic's own models on the demo benchmark.

    python tools/compare_demo.py [--iters 300] [--seeds 0 1 2] [--jobs 1]
        [--work-dir work_dirs/demo_comparison] [--out results/demo_comparison.json]
        [--figure docs/figures/demo_comparison.jpg] [--only NAME ...] [--reuse]

Each method is trained with ``tools/train.py`` on the demo data (same crop, optimiser and
schedule) once per seed (``--cfg-options randomness.seed=S``, work dir
``WORK_DIR/NAME/seedS``), then each run is evaluated with ``tools/demo_report.py``
(MMagic's PSNR/SSIM on the Y channel over the paired demo test split). A method's row
keeps the per-seed values and their mean and sample standard deviation; the rainy
input itself is the reference row. Results land in one JSON file, from which
``tools/model_zoo.py`` writes the README table and ``configs/metafile.yml``; the figure
shows rainy | NLCL B | NLCL R | supervised | each of MMagic's models run | clean for a
few test images (first seed's checkpoints).

``--jobs N`` runs up to N trainings (and their evaluations) at once, each limited to
``max(1, cores // N)`` threads through ``OMP_NUM_THREADS``: two multi-threaded torch
processes on the same cores slow each other down far more than they gain. Training times
of concurrent runs include that sharing.

Methods (``--only`` takes these names):

* ``nlcl_recommended``: ``configs/nlcl_demo.py`` (asymmetric layer loss, G_B removing a
  learned share of the streak light and a smooth veil, frozen layer heads, location loss
  0.1, D without norm on the grey detail layer with warm-up, moving averages of the
  generators);
* ``nlcl_instance_norm_d``: ``configs/demo/nlcl_demo_instance_norm_d.py`` (the
  paper's discriminator: InstanceNorm, no warm-up);
* ``nlcl_no_streak_light``: ``configs/demo/nlcl_demo_no_streak_light.py`` (the
  recommendation before the streak light: G_B a free residual, D on the grey tone and
  detail layer, weights initialised with gain 0.02);
* ``nlcl_symmetric_layer``: ``configs/demo/nlcl_demo_symmetric_layer.py`` (the CVPR
  symmetric layer loss, everything else recommended);
* ``nlcl_no_ema``: ``configs/demo/nlcl_demo_no_ema.py`` (the raw generators instead of
  the moving averages of their weights);
* ``nlcl_identity``: ``configs/demo/nlcl_demo_identity.py`` (plus the identity loss on
  the clean image, beyond the paper);
* ``nlcl_rain_transplant``: ``configs/demo/nlcl_demo_rain_transplant.py`` (plus the rain
  transplant loss, beyond the paper);
* ``nlcl_options_off``: ``configs/demo/nlcl_demo_options_off.py`` (asymmetric layer
  loss, every option beyond the paper off);
* ``nlcl_learned_heads``: ``configs/demo/nlcl_demo_learned_heads.py`` (the paper's
  learned layer heads);
* ``nlcl_no_layer_loss``: ``configs/demo/nlcl_demo_no_layer_loss.py``;
* ``nlcl_random_sampling``: ``configs/demo/nlcl_demo_random_sampling.py`` (random
  instead of non-local sampling);
* ``nlcl_cvpr_symmetric``: ``configs/demo/nlcl_demo_cvpr_symmetric.py`` (symmetric
  layer loss, the authors' settings);
* ``nlcl_official_legacy``: ``configs/demo/nlcl_demo_official_legacy.py`` (the released
  code, defects D1-D3 included);
* ``supervised_l1``: ``configs/demo/supervised_demo.py`` (G_B trained on the paired
  rainy/clean crops: the upper bound of an unsupervised method);
* ``restormer``, ``nafnet``: ``configs/zoo/restormer_demo.py``,
  ``configs/zoo/nafnet_demo.py`` (MMagic's Restormer and NAFNet, sized for a CPU,
  trained on the same paired crops);
* ``cyclegan``: ``configs/zoo/cyclegan_demo.py`` (MMagic's CycleGAN on the same unpaired
  rainy and clean crops as NLCL).

Budget rule: equal iterations. Every method trains ``--iters`` iterations at batch 1 on
the same crops with the demo's schedule; the times differ and are recorded. Each row
also records the parameters and multiply-accumulates at 256x256 of the network that
derains (``nlcl_plugin.evaluation.comparison.model_complexity``).
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.comparison import (DEFAULT_SEEDS, METHODS,  # noqa: E402
                                               aggregate, comparison_figure, hardware,
                                               job_env, logged_train_seconds,
                                               model_complexity, seed_work_dir,
                                               threads_per_job, train_command, visible_cores)


def run(cmd: List[str], log_path: str, env: Optional[Dict[str, str]] = None) -> float:
    """Run ``cmd`` from the repository root, output to ``log_path``; seconds taken."""
    start = time.time()
    with open(log_path, 'w') as log:
        res = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    if res.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {res.returncode}); log: {log_path}\n'
                           f'{tail}')
    return time.time() - start


def train_and_evaluate(name: str, seed: int, iters: int, work_root: str, reuse: bool,
                       env: Optional[Dict[str, str]] = None) -> dict:
    """Train method ``name`` with ``seed`` (unless ``reuse`` finds its checkpoint) and
    evaluate it on the demo test split.

    Returns:
        dict: one per-seed row: ``seed``, ``checkpoint`` (relative to the repository),
        ``psnr``, ``ssim``, ``input_psnr``, ``input_ssim``, ``images``, ``iterations``,
        ``detail_removed`` / ``base_removed`` (share of the input's detail-band / base-band
        error gone), ``detail_projection`` (share of the streaks' layer taken away; all
        three from ``tools/error_bands.py``) and ``train_seconds`` (None when unknown).
    """
    _, config, _ = METHODS[name]
    work = seed_work_dir(work_root, name, seed)
    os.makedirs(work, exist_ok=True)
    ckpt = osp.join(work, f'iter_{iters}.pth')
    tag = f'[{name} seed {seed}]'
    train_seconds = None
    if not (reuse and osp.isfile(ckpt)):
        print(f'{tag} training {iters} iterations: {config}', flush=True)
        train_seconds = run(train_command(config, work, iters, seed),
                            osp.join(work, 'train.log'), env)
    print(f'{tag} evaluating {ckpt}', flush=True)
    run([sys.executable, 'tools/demo_report.py', config, work, '--checkpoint', ckpt,
         '--shipped', ''], osp.join(work, 'test.log'), env)
    with open(osp.join(work, 'demo_report.json')) as f:
        report = json.load(f)
    if train_seconds is None:  # --reuse: the time the earlier run logged
        train_seconds = logged_train_seconds(osp.join(work, 'train.log'), iters)
    row = dict(seed=seed, iterations=iters, checkpoint=osp.relpath(ckpt, REPO),
               psnr=report['psnr'], ssim=report['ssim'], input_psnr=report['input_psnr'],
               input_ssim=report['input_ssim'], images=report['images'],
               detail_removed=report.get('detail_removed'),
               base_removed=report.get('base_removed'),
               detail_projection=report.get('detail_projection'),
               per_kind=report.get('per_kind') or {},
               input_per_kind=report.get('input_per_kind') or {},
               train_seconds=None if train_seconds is None else round(train_seconds, 1))
    print(f'{tag} PSNR {row["psnr"]:.3f}  SSIM {row["ssim"]:.4f}', flush=True)
    return row



def run_all(names: Sequence[str], seeds: Sequence[int], iters: int, work_root: str,
            reuse: bool, jobs: int) -> List[dict]:
    """Train and evaluate every (method, seed), up to ``jobs`` at once; one aggregated
    row per method, in the order of ``names``."""
    env = job_env(jobs, visible_cores())
    tasks = [(n, s) for n in names for s in seeds]
    results: Dict[tuple, dict] = {}
    if jobs == 1:
        for n, s in tasks:
            results[(n, s)] = train_and_evaluate(n, s, iters, work_root, reuse, env)
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        try:
            futures = {pool.submit(train_and_evaluate, n, s, iters, work_root, reuse, env):
                       (n, s) for n, s in tasks}
            for fut in concurrent.futures.as_completed(futures):
                results[futures[fut]] = fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return [aggregate(n, [results[(n, s)] for s in seeds]) for n in names]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=300, help='training iterations per run')
    p.add_argument('--seeds', type=int, nargs='+', default=list(DEFAULT_SEEDS),
                   help='one training run per seed and method (default: 0 1 2)')
    p.add_argument('--jobs', type=int, default=1,
                   help='runs at once, each with max(1, cores // JOBS) threads (default 1)')
    p.add_argument('--work-dir', default='work_dirs/demo_comparison')
    p.add_argument('--out', default='results/demo_comparison.json')
    p.add_argument('--figure', default='docs/figures/demo_comparison.jpg')
    p.add_argument('--only', nargs='+', choices=sorted(METHODS), help='methods to run')
    p.add_argument('--reuse', action='store_true',
                   help='evaluate existing checkpoints instead of training again')
    args = p.parse_args(argv)
    if args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    if args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds must be distinct, got {args.seeds}')

    from mmengine.config import Config

    import nlcl_plugin  # noqa: F401  (registers the plugin's modules)
    from nlcl_plugin.data import DEMO_DATA_VERSION, prepare_demo_data
    from nlcl_plugin.data.rain_kinds import HELD_OUT_KINDS
    paths = prepare_demo_data(osp.join(REPO, 'data', 'nlcl_demo'))
    work_root = osp.abspath(args.work_dir)
    names = args.only or list(METHODS)
    start = time.time()
    rows = run_all(names, args.seeds, args.iters, work_root, args.reuse, args.jobs)
    for row in rows:  # of the network that derains, at 256x256
        row.update(model_complexity(osp.join(REPO, row['config'])))
    first = rows[0]
    result = dict(
        benchmark='nlcl_demo',
        description=('Built-in demo benchmark (demo data version '
                     f'{DEMO_DATA_VERSION}): synthetic rain scenes rendered on natural '
                     'photographs bundled with scikit-image, scikit-learn and matplotlib; '
                     'unpaired training split, paired test split of other photographs'),
        date=datetime.date.today().isoformat(),
        command='python tools/compare_demo.py ' + ' '.join(argv if argv is not None
                                                            else sys.argv[1:]),
        iterations=args.iters,
        budget='equal iterations',
        seeds=list(args.seeds),
        batch_size=1,
        crop_size=int(Config.fromfile(osp.join(REPO, METHODS[names[0]][1])).crop_size),
        data=dict(train_rainy=len(os.listdir(paths['train_rainy'])),
                  train_clean=len(os.listdir(paths['train_clean'])),
                  train_pairs_supervised=len(os.listdir(paths['train_target'])),
                  test_pairs=first['test_images']),
        metrics='PSNR / SSIM on the Y channel (MMagic), mean over the demo test split',
        hardware=hardware(),
        jobs=args.jobs,
        threads_per_run=threads_per_job(args.jobs, visible_cores()),
        total_seconds=round(time.time() - start, 1),
        data_version=DEMO_DATA_VERSION,
        held_out_kinds=list(HELD_OUT_KINDS),
        input=dict(psnr=first['input_psnr'], ssim=first['input_ssim'],
                   per_kind=first.get('input_per_kind') or {}),
        methods=[{k: v for k, v in r.items() if not k.startswith('input_')} for r in rows],
    )
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'results written to {args.out}')
    figure = comparison_figure(rows, paths['test'], args.figure)
    if figure:
        print(f'figure written to {figure}')
    print(f'{"method":<60} {"PSNR (mean ± std)":>18} {"SSIM (mean ± std)":>18}')
    print(f'{"rainy input":<60} {result["input"]["psnr"]:18.3f} '
          f'{result["input"]["ssim"]:18.4f}')
    for r in rows:
        print(f'{r["label"][:60]:<60} {r["psnr"]:9.3f} ± {r["psnr_std"]:6.3f} '
              f'{r["ssim"]:9.4f} ± {r["ssim_std"]:6.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
