"""tools/benchmark.py names the CPU and reports the training step's ratios
(nlcl_plugin.benchmarks.train)."""
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
                 'floor by count',
                 'one G_B forward+backward'):
        assert text in out


def test_the_timed_step_is_a_full_iteration(repo_root):
    """The recommended config starts with discriminator-only iterations; the benchmark
    (and tools/gpu_check.py, which builds through it) must time D step and G step."""
    import torch
    from nlcl_plugin.benchmarks import train as benchmark
    model, optims = benchmark.build_nlcl(torch.device('cpu'), False)
    logs = model.train_step(benchmark.nlcl_batch(1, 64), optims)
    assert 'loss_g' in logs and 'loss_d' in logs


def test_convolution_count_of_one_generator_pass(repo_root):
    """The benchmark's MAC count of one G_B forward+backward equals the count from the
    layer shapes: every convolution runs forward and computes its weight gradient, and
    all but the first (whose input, the image, needs no gradient) their input gradient."""
    import torch
    from nlcl_plugin.benchmarks import train as benchmark
    model, optims = benchmark.build_nlcl(torch.device('cpu'), False)
    size = 32
    convs = [m for m in model.generator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.stride == (1, 1) for c in convs)  # every layer at the image's resolution
    per_layer = [size * size * c.out_channels * c.in_channels // c.groups
                 * c.kernel_size[0] * c.kernel_size[1] for c in convs]
    expected = 3 * sum(per_layer) - per_layer[0]
    counted = benchmark.convolution_macs(
        benchmark.generator_reference(model, size, torch.device('cpu')),
        [model.generator, model.rain_generator, model.discriminator])
    assert counted['total'] == expected
    assert counted['forward'] == sum(per_layer)
    # a training step costs more than four such passes (G_R, G_B on two images, taps)
    step = benchmark.convolution_macs(
        lambda: model.train_step(benchmark.nlcl_batch(1, size), optims),
        [model.generator, model.rain_generator, model.discriminator])
    assert step['total'] > 4 * expected
