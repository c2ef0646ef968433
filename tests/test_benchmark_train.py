"""tools/benchmark.py names the CPU and reports the training step's ratios."""
import os.path as osp
import subprocess
import sys


def test_train_section_summary(repo_root):
    res = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'benchmark.py'), '--section', 'train',
         '--train-size', '64', '--train-batches', '1', '--train-repeats', '1',
         '--no-train-plain', '--threads', '1'], capture_output=True, text=True, cwd=repo_root)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert out.splitlines()[0].startswith('CPU: ')
    assert 'core' in out.splitlines()[0]
    for text in ('step / one G_B forward+backward', 'non-local searches, share of the step',
                 'one G_B forward+backward'):
        assert text in out
