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


def test_the_timed_step_is_a_full_iteration(repo_root):
    """The recommended config starts with discriminator-only iterations; the benchmark
    (and tools/gpu_check.py, which builds through it) must time D step and G step."""
    import torch
    sys.path.insert(0, osp.join(repo_root, 'tools'))
    import benchmark
    model, optims = benchmark.build_nlcl(torch.device('cpu'), False)
    logs = model.train_step(benchmark.nlcl_batch(1, 64), optims)
    assert 'loss_g' in logs and 'loss_d' in logs
