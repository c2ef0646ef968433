"""nlcl_plugin.evaluation: the report's helpers (checkpoints, pairs, pictures, the table
per kind), the detail-band map, the logged scalars and times, and the import structure
that keeps tools/ as command lines over the package (no tool imports another)."""
import ast
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest

from nlcl_plugin.evaluation import comparison, diagnostics, error_bands, report

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_latest_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        report.latest_checkpoint(str(tmp_path))
    for it in (9, 10, 2):
        (tmp_path / f'iter_{it}.pth').write_bytes(b'')
    # by iteration, not by name (iter_9 sorts after iter_10 as text)
    assert report.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth') + '\n')
    assert report.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    # a marker naming a file that is gone: the newest file instead
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_99.pth'))
    assert report.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')


def test_official_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(report, 'REPO', str(tmp_path / 'repo'))
    monkeypatch.delenv('NLCL_OFFICIAL_DIR', raising=False)
    assert report.official_checkpoint() is None
    assert report.official_checkpoint(str(tmp_path / 'missing')) is None
    env_dir, arg_dir = tmp_path / 'env', tmp_path / 'arg'
    for root in (env_dir, arg_dir):
        os.makedirs(root / 'checkpoints')
        (root / 'checkpoints' / 'latest_net_Back.pth').write_bytes(b'')
    monkeypatch.setenv('NLCL_OFFICIAL_DIR', str(env_dir))
    assert report.official_checkpoint() == str(env_dir / 'checkpoints' / 'latest_net_Back.pth')
    # the folder asked for comes first
    assert report.official_checkpoint(str(arg_dir)) == str(
        arg_dir / 'checkpoints' / 'latest_net_Back.pth')


def test_test_pairs(tmp_path):
    os.makedirs(tmp_path / 'input')
    with pytest.raises(FileNotFoundError, match='no test images'):
        report.test_pairs(str(tmp_path))
    for name in ('b.png', 'a.png'):
        (tmp_path / 'input' / name).write_bytes(b'')
    assert report.test_pairs(str(tmp_path)) == ['a.png', 'b.png']


def test_write_pictures(tmp_path):
    from nlcl_plugin.image_io import read_image
    a = np.full((10, 12, 3), 30, np.uint8)
    b = np.full((10, 12, 3), 200, np.uint8)
    out = report.write_pictures({'x.jpg': [a, b], 'y.png': [b, a]}, ['one', 'two'],
                                str(tmp_path / 'pics'))
    assert sorted(os.listdir(out)) == ['x.png', 'y.png']
    img, _ = read_image(osp.join(out, 'x.png'))
    assert img.shape == (24 + 10, 24, 3)  # a 24-row title band over the panels side by side
    np.testing.assert_array_equal(img[24:, :12], a)
    np.testing.assert_array_equal(img[24:, 12:], b)


def _row(label, psnr):
    return dict(label=label, per_kind={'drops': dict(images=2, psnr=psnr, ssim=0.5,
                                                     detail_projection=0.25,
                                                     detail_removed=-0.1)})


def test_print_per_kind(capsys):
    report.print_per_kind([dict(label='input', per_kind={})])
    assert capsys.readouterr().out == ''  # no kinds: no table
    report.print_per_kind([_row('input', 20.0), _row('derained', 21.5)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == 'Per rain kind (* held out of training):'
    model = [line for line in lines if line.startswith('| derained ')]
    assert len(model) == 1
    cells = [c.strip() for c in model[0].strip('|').split('|')]
    assert cells[1:] == ['drops', '2', '21.500', '0.5000', '+1.50 dB', '25.0 %', '-10.0 %']


def test_detail_error_map():
    rng = np.random.default_rng(0)
    clean = rng.integers(60, 190, (20, 24, 3)).astype(np.uint8)
    flat = error_bands.detail_error_map(clean, clean)
    assert flat.dtype == np.uint8 and flat.shape == clean.shape
    assert (flat == 128).all()  # no error: mid-grey
    dot = clean.copy()
    dot[10, 12] += 20  # a bright dot: brighter than grey there, in every channel alike
    m = error_bands.detail_error_map(dot, clean)
    # reference: 4 x the dot's Y (20 levels x the Y weights) less its blur, whose centre
    # weight is about 1 / (2 pi sigma^2) for sigma 3
    y = 20 * (65.481 + 128.553 + 24.966) / 255
    assert m[10, 12, 0] == pytest.approx(128 + 4 * y * (1 - 1 / (2 * np.pi * 9)), abs=1)
    assert (m[10, 12] == m[10, 12, 0]).all()
    assert m[0, 0, 0] == 128  # far from the dot: no detail-band error


def test_read_scalars(tmp_path):
    stamp = tmp_path / '20260101_000000' / 'vis_data'
    os.makedirs(stamp)
    records = [dict(loss_g=1.0, step=10), dict(PSNR=20.0, step=0), dict(loss_d=0.5, step=20),
               dict(PSNR=21.0, SSIM=0.7, step=20)]
    (stamp / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    train, val = diagnostics.read_scalars(str(tmp_path))
    assert [r['step'] for r in train] == [10, 20]
    # a validation logged by epoch (step 0) belongs to the iteration before it
    assert [(r['step'], r['PSNR']) for r in val] == [(10, 20.0), (20, 21.0)]
    with pytest.raises(FileNotFoundError):
        diagnostics.read_scalars(str(tmp_path / 'none'))


def test_logged_train_seconds(tmp_path):
    log = tmp_path / 'train.log'
    log.write_text('12/04 10:00:00 - mmengine - INFO - start\n'
                   'not a log line\n'
                   '12/04 10:02:30 - mmengine - INFO - Saving checkpoint at 7 iterations\n'
                   '12/04 10:03:00 - mmengine - INFO - after\n')
    assert comparison.logged_train_seconds(str(log), 7) == 150.0
    assert comparison.logged_train_seconds(str(log), 8) is None  # never saved at 8
    assert comparison.logged_train_seconds(str(tmp_path / 'none.log'), 7) is None


def _imports(path):
    """Top-level module names ``path`` imports (anywhere in it)."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
    return names


def test_tools_do_not_import_each_other_and_the_package_no_tool():
    tools = sorted(glob.glob(osp.join(REPO, 'tools', '*.py')))
    tool_names = {osp.splitext(osp.basename(p))[0] for p in tools}
    assert {'demo_report', 'error_bands', 'compare_demo', 'model_zoo'} <= tool_names
    for path in tools:
        name = osp.splitext(osp.basename(path))[0]
        assert not _imports(path) & (tool_names - {name}), path
    for path in glob.glob(osp.join(REPO, 'nlcl_plugin', '**', '*.py'), recursive=True):
        assert not _imports(path) & tool_names, path


def test_evaluation_modules_import_no_circle():
    """The modules of nlcl_plugin.evaluation, with the relative imports anywhere in them
    (those inside functions included), form no circle."""
    folder = osp.join(REPO, 'nlcl_plugin', 'evaluation')
    graph = {}
    for path in glob.glob(osp.join(folder, '*.py')):
        name = osp.splitext(osp.basename(path))[0]
        graph[name] = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    graph[name].add(node.module.split('.')[0])
                else:
                    graph[name].update(a.name for a in node.names)
    assert {'error_bands', 'report', 'model_zoo', 'comparison', 'diagnostics',
            'discriminator_probe', 'per_kind', 'metrics'} <= set(graph)
    done, stack = set(), []

    def visit(node):
        assert node not in stack, f'circle: {stack[stack.index(node):] + [node]}'
        if node in done:
            return
        stack.append(node)
        for nxt in graph.get(node, ()):
            visit(nxt)
        stack.pop()
        done.add(node)

    for node in graph:
        visit(node)
