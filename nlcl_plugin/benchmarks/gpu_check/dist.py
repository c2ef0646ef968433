"""Section ``dist``: ``tools/dist_train.sh`` with NCCL, and why a run could not start."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time

from . import core
from .core import (REPO, Section, cli_options, demo_overrides, device_name, free_port, fresh_dir,
                   run_tool)


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
            [f'logs under {osp.relpath(core.WORK_ROOT, REPO)}/dist_N/console.log'])
