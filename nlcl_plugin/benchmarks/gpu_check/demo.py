"""Section ``demo``: ``configs/nlcl_demo.py`` trained on the device and evaluated on the demo
test split, beside the CPU run."""
import json
import os.path as osp
import subprocess
import sys
import time

from .core import (REPO, Section, cli_options, demo_overrides, device_name, fresh_dir, run_tool,
                   tail)


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
