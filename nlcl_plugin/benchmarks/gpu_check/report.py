"""The report: targets met or missed, hints, markdown, the files, the exit status."""
import argparse
import json
import os
import os.path as osp
import subprocess
from typing import Any, Dict, List, Optional

from .core import REPO, TARGETS



def evaluate_targets(sections: Dict[str, Dict[str, Any]],
                     dry_run: bool = False) -> List[Dict[str, Any]]:
    """Targets met / missed / not measured, from the sections' metrics (a dry run on the
    CPU is not compared with them)."""
    m: Dict[str, Any] = {}
    for sec in sections.values():
        m.update(sec.get('metrics', {}))
    out = []
    for key, what, goal, op, bound, fmt in TARGETS:
        value = m.get(key)
        if value is None or dry_run:
            out.append(dict(key=key, what=what, goal=goal, value=None, measured='not measured',
                            result='not measured'))
            continue
        text = fmt.format(value)
        met = value <= bound if op == 'le' else value >= bound
        if key == 'infer_12mp_compiled_s':
            grey = m.get('infer_12mp_compiled_grey')
            text += f', {grey} grey level(s)' if grey is not None else ''
            met = met and grey is not None and grey <= 1
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
    left = m.get('layout_kernels_left')
    if left:
        hints.append(f'{left} cuDNN layout conversion kernels are left in the channels-last '
                     'training steps (see the layout table): some map reaches a convolution '
                     'in NCHW')
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
