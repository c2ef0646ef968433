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
``bench``    ``tools/benchmark.py``'s training step on CUDA at 256x256, batch 1/4/8, fp32,
             fp16 AMP and (where the GPU has it) bf16 AMP (ms/iter, images/s, peak
             memory, phase breakdown, a profiler pass for the GPU's busy time and cuDNN's
             layout conversion kernels), the step with channels-last against NCHW
             networks, and G_B inference on 512x1024 and 4000x3000 (ms, peak memory).
``demo``     ``configs/nlcl_demo.py`` trained for ``--demo-iters`` iterations (300, as
             the CPU runs in the README) and evaluated on the demo test split
             (``tools/demo_report.py``: PSNR / SSIM), so GPU and CPU runs compare.
``compile``  ``torch.compile``: the training step as mmengine's Runner compiles it
             (``mode='reduce-overhead'``, fp16 AMP and fp32) against the eager step over
             20 iterations (losses, ms/step, dynamo's graphs and graph breaks);
             ``Derainer(compile=True)`` on a 4000x3000 photo; G_B's forward, eager and
             compiled, with TF32 allowed and off, against fp32 with TF32 off.

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
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, Optional

from . import core
from .bench import section_bench
from .compile import section_compile
from .core import (DEFAULT_BUDGET, DEFAULT_SECTIONS, OFFICIAL_DIR, REPO, SECTIONS, Section,
                   tail)
from .demo import section_demo
from .dist import section_dist
from .env import section_env
from .parity import section_parity
from .report import (evaluate_targets, exit_status, provenance, render_markdown, why_missed,
                     write_report)
from .runner import section_runner
from .sampler import section_sampler


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


SECTION_FNS = dict(env=section_env, parity=section_parity, sampler=section_sampler,
                   runner=section_runner, dist=section_dist, bench=section_bench,
                   demo=section_demo, compile=section_compile)


def run_child(args: argparse.Namespace) -> int:
    """Run one section in this process and write its result as JSON to --child-out."""
    s = Section(dry=args.allow_cpu, quick=args.quick, args=args, save_to=args.child_out)
    t0 = time.perf_counter()
    status = 'ok'
    try:
        import nlcl_plugin  # noqa: F401  (compat fixes before any host import)
        if args.allow_cpu:
            from nlcl_plugin.models.fast_ops import keep_freed_memory
            keep_freed_memory()
        os.makedirs(core.WORK_ROOT, exist_ok=True)
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
    os.makedirs(core.WORK_ROOT, exist_ok=True)
    log = osp.join(core.WORK_ROOT, f'{name}.log')
    fd, out_json = tempfile.mkstemp(prefix=f'gpu_check_{name}_', suffix='.json')
    os.close(fd)
    cmd = [sys.executable, '-m', 'nlcl_plugin.benchmarks.gpu_check', '--child', name,
           '--child-out', out_json,
           '--demo-iters', str(args.demo_iters), '--official-dir', args.official_dir]
    cmd += ['--quick'] * args.quick + ['--allow-cpu'] * args.allow_cpu
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, env.get('PYTHONPATH')) if p)
    t0 = time.perf_counter()
    print(f'[gpu_check] {name}: {SECTIONS[name][1]} (time box {timeout:.0f} s, log '
          f'{osp.relpath(log, REPO)})', flush=True)
    result: Dict[str, Any]
    try:
        try:
            code = core.run_tool(cmd, log, timeout, env).returncode
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            result = dict(status='timeout', checks=[], tables=[], metrics={}, notes=[])
            if osp.getsize(out_json) > 0:  # what the section had measured by then
                with open(out_json) as f:
                    result.update(json.load(f), status='timeout')
            result['notes'] = list(result.get('notes', [])) + [
                f'stopped after its time box of {timeout:.0f} s']
        elif osp.getsize(out_json) > 0:
            with open(out_json) as f:
                result = json.load(f)
            if result.get('status') == 'partial':  # the process died after these
                result['status'] = 'error'
                result['notes'] = list(result.get('notes', [])) + [
                    f'the section\'s process exited with status {code}']
        else:
            result = dict(status='error', checks=[], tables=[], metrics={},
                          notes=[f'the section\'s process exited with status {code}'])
    finally:
        for path in (out_json, out_json + '.tmp'):
            if osp.exists(path):
                os.unlink(path)
    result['seconds'] = time.perf_counter() - t0
    if result['status'] in ('error', 'timeout'):
        result['log_tail'] = tail(log, 25)
    result['title'] = SECTIONS[name][1]
    result['log'] = osp.relpath(log, REPO)
    print(f'[gpu_check] {name}: {result["status"]} in {result["seconds"]:.0f} s', flush=True)
    return result


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
    report['targets'] = evaluate_targets(report['sections'], args.allow_cpu) if {
        'bench', 'compile'} & set(report['sections']) else []
    report['why'] = [] if args.allow_cpu else why_missed(report['sections'])
    paths = write_report(report, args.out)
    print(render_markdown(report))
    print(f'[gpu_check] wrote {paths["json"]} and {paths["md"]}')
    return exit_status(report)


if __name__ == '__main__':
    sys.exit(main())
