"""The GPU check on the CPU (nlcl_plugin.benchmarks.gpu_check, tools/gpu_check.py):
arguments, the no-CUDA exit, the time box, the report."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from nlcl_plugin.benchmarks import gpu_check

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_arguments():
    args = gpu_check.parse_args([])
    assert args.section_list == gpu_check.DEFAULT_SECTIONS
    assert args.demo_iters == 300 and not args.quick and not args.allow_cpu
    assert gpu_check.parse_args(['--quick']).demo_iters == 50
    assert gpu_check.parse_args(['--allow-cpu']).demo_iters == 2
    assert gpu_check.parse_args(['--sections', 'all']).section_list == list(gpu_check.SECTIONS)
    assert gpu_check.parse_args(['--sections', 'bench, env,bench']).section_list == [
        'bench', 'env']
    assert gpu_check.parse_args(['--demo-iters', '7']).demo_iters == 7
    for bad in (['--sections', 'env,nope'], ['--sections', ','], ['--budget', '0'],
                ['--demo-iters', '0'], ['--bogus']):
        with pytest.raises(SystemExit) as err:
            gpu_check.parse_args(bad)
        assert err.value.code == 2, bad


def test_without_cuda_exits_2_with_one_line(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'gpu_check.py'), '--out',
                          str(tmp_path / 'out')], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('gpu_check: CUDA is not available: ')
    assert res.stdout == ''
    assert not (tmp_path / 'out').exists()


def test_a_section_past_its_time_box_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check.core, 'WORK_ROOT', str(tmp_path / 'work'))
    args = gpu_check.parse_args(['--allow-cpu', '--sections', 'env'])
    result = gpu_check.run_section('env', args, timeout=0.2)
    assert result['status'] == 'timeout'
    assert 'time box' in result['notes'][0]
    assert osp.exists(tmp_path / 'work' / 'env.log')


def synthetic_report():
    check = dict(name='fp32: every parameter updated', ok=True, detail='206 parameters')
    sections = {
        'env': dict(title='Environment', status='ok', seconds=3.0, checks=[check], notes=[],
                    metrics=dict(info={'GPU': 'NVIDIA H200', 'torch': '2.11.0+cu130',
                                       'torch CUDA': '13.0',
                                       'driver (nvidia-smi)': '580.159.04, NVIDIA H200'}),
                    tables=[dict(title='Machine and versions',
                                 rows=[{'what': 'GPU', 'value': 'NVIDIA H200'}], notes=[])]),
        'bench': dict(title='Speed', status='failed', seconds=100.0,
                      checks=[dict(name='training steps ran', ok=False, detail='batch 8: OOM')],
                      notes=['a note'], tables=[],
                      metrics=dict(amp_b1_ms=35.0, fp32_b1_ms=48.0,
                                   speedup_vs_authors=1230 / 35.0,
                                   b8_images_per_s=120.0, search_ms={'amp': 3.5},
                                   profile={'amp': dict(kernels=2000, busy_fraction=0.4,
                                                        wall_ms=35.0)})),
        'compile': dict(title='torch.compile', status='ok', seconds=90.0, checks=[], notes=[],
                        tables=[], metrics=dict(amp_b1_compiled_ms=28.0,
                                                infer_12mp_compiled_s=0.25,
                                                infer_12mp_compiled_grey=2)),
        'dist': dict(title='dist_train.sh', status='timeout', seconds=180.0, checks=[],
                     tables=[], metrics={}, notes=['stopped after its time box of 180 s'],
                     log_tail='Traceback ...\nRuntimeError: boom\n'),
    }
    report = dict(date='2026-12-01 10:00', command='python tools/gpu_check.py', dry_run=False,
                  total_seconds=283.0, sections=sections)
    report['targets'] = gpu_check.evaluate_targets(sections)
    report['why'] = gpu_check.why_missed(sections)
    return report


def test_targets_and_report_files(tmp_path):
    report = synthetic_report()
    results = {t['key']: t['result'] for t in report['targets']}
    assert results == {'amp_b1_ms': 'missed', 'amp_b1_compiled_ms': 'met',
                       'bf16_b1_ms': 'not measured', 'fp32_b1_ms': 'met',
                       'speedup_vs_authors': 'missed', 'b8_images_per_s': 'missed',
                       'infer_12mp_compiled_s': 'missed', 'infer_12mp_s': 'not measured'}
    assert any('waits on the CPU' in h for h in report['why'])
    dry = gpu_check.evaluate_targets(report['sections'], dry_run=True)
    assert {t['result'] for t in dry} == {'not measured'}  # a CPU dry run is not compared
    paths = gpu_check.write_report(report, str(tmp_path / 'results'))
    with open(paths['json']) as f:
        assert json.load(f)['targets'] == report['targets']
    md = open(paths['md']).read()
    assert md.startswith('# GPU check\n')
    assert 'NVIDIA H200, torch 2.11.0+cu130 (CUDA 13.0)' in md
    assert '| training step, 256x256, batch 1, AMP (fp16) | <= 30 ms | 35.0 ms | **missed** |' in md
    assert '| <= 30 ms | 28.0 ms | met |' in md
    # the compiled Derainer is fast enough but 2 grey levels off eager: missed
    assert '| <= 0.3 s | 0.25 s, 2 grey level(s) | **missed** |' in md
    assert '| 120 images/s | **missed** |' in md
    assert '| not measured | not measured |' in md
    assert '| bench: Speed | failed | 100 | 0/1 |' in md
    assert '- **FAILED**: training steps ran (batch 8: OOM)' in md
    assert '- ok: fp32: every parameter updated (206 parameters)' in md
    assert 'RuntimeError: boom' in md and '| dist: dist_train.sh | timeout | 180 | 0/0 |' in md
    assert '| what | value |\n| --- | --- |\n| GPU | NVIDIA H200 |' in md
    assert 'Dry run' not in md
    assert gpu_check.exit_status(report) == 1
    report['dry_run'] = True
    assert 'Dry run on the CPU' in gpu_check.render_markdown(report)
    for sec in report['sections'].values():
        sec['status'] = 'ok'
    assert gpu_check.exit_status(report) == 0


def test_dist_reason_is_the_failing_ranks_error():
    """A real torchrun failure (captured on the CPU: rank 1 asks for a second GPU, rank 0
    then loses its peer): the reason is rank 1's exception, not torchrun's banner."""
    with open(osp.join(REPO, 'tests', 'data', 'torchrun_rank1_failed.log')) as f:
        text = f.read()
    assert text.rstrip().endswith('=' * 60)  # what the report used to show
    reason = gpu_check._dist_reason(text)
    assert reason == "rank 1: AttributeError: module 'torch._C' has no attribute '_cuda_setDevice'"
    # without the root-cause block: the last exception a rank raised
    head = text.split('Root Cause')[0]
    assert gpu_check._dist_reason(head).startswith('rank 0: RuntimeError: ')
    # without any exception line: the last line before the banner, never a line of '='
    bare = '\n'.join(ln for ln in text.splitlines() if 'Error' not in ln)
    assert set(gpu_check._dist_reason(bare)) != {'='}
    assert 'launch_agent' in gpu_check._dist_reason(bare)
    # known causes keep their explanation
    assert gpu_check._dist_reason(
        text + '\n[rank1]: torch.AcceleratorError: CUDA error: invalid device ordinal\n'
    ).startswith('mmengine starts each rank with torch.cuda.set_device')
    assert gpu_check._dist_reason('') == 'no output'


def test_committed_report_renders_to_its_markdown():
    """results/gpu_check.md is the rendering of results/gpu_check.json, provenance
    included."""
    with open(osp.join(REPO, 'results', 'gpu_check.json')) as f:
        report = json.load(f)
    with open(osp.join(REPO, 'results', 'gpu_check.md')) as f:
        md = f.read()
    assert gpu_check.render_markdown(report) == md
    assert report['provenance']['commit'].startswith('d98b6b2')
    assert '- machine: one NVIDIA H200' in md


def test_runner_section_dry_run_passes(tmp_path, monkeypatch):
    """The runner section on the CPU (tiny crops): the config's D-only warm-up is off and
    only trainable parameters must change, so every check passes."""
    monkeypatch.setattr(gpu_check.core, 'WORK_ROOT', str(tmp_path / 'work'))
    args = gpu_check.parse_args(['--allow-cpu', '--sections', 'runner'])
    s = gpu_check.Section(dry=True, quick=False, args=args)
    gpu_check.section_runner(s)
    failed = [c for c in s.checks if not c['ok']]
    assert s.checks and not failed, failed
    updated = s.tables[0]['rows'][0]['parameters updated']
    done, total = (int(v) for v in updated.split('/'))
    assert done == total > 0


def test_a_section_keeps_what_it_measured(tmp_path):
    """Every check and table is written at once, so that a section stopped at its time
    box still reports them."""
    out = tmp_path / 'section.json'
    s = gpu_check.Section(dry=True, quick=False, args=None, save_to=str(out))
    s.table('first table', [{'a': 1.5}])
    with open(out) as f:
        saved = json.load(f)
    assert saved['status'] == 'partial' and saved['tables'][0]['rows'] == [{'a': '1.5'}]
    s.check('a check', True)
    with open(out) as f:
        assert json.load(f)['checks'][0]['name'] == 'a check'
