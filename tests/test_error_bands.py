"""tools/error_bands.py: a constant offset lies in the base band, a fine checkerboard in the
detail band (references: the PSNR of the pair itself)."""
import math
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import error_bands as error_bands_tool  # noqa: E402

from nlcl_plugin.evaluation import error_bands  # noqa: E402
from nlcl_plugin.evaluation.metrics import y_metrics  # noqa: E402


def write_pair(root, name, rainy, clean):
    for sub, img in (('input', rainy), ('target', clean)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / sub / name), img[..., ::-1])


def test_offset_is_base_and_checkerboard_is_detail(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.integers(60, 190, (48, 40, 3)).astype(np.uint8)
    offset = (clean.astype(int) + 12).astype(np.uint8)
    checker = (np.indices((48, 40)).sum(0) % 2 * 2 - 1)[..., None] * 10
    streaks = (clean.astype(int) + checker).astype(np.uint8)
    write_pair(tmp_path, 'a_offset.png', offset, clean)
    write_pair(tmp_path, 'b_checker.png', streaks, clean)
    rows, mean = error_bands.measure(str(tmp_path), [3.0])
    off, chk = rows
    assert off['input'] == y_metrics(offset, clean)[0]
    # the offset is all base: removing the detail band changes nothing, the rest removes it
    assert abs(off['base_3'] - off['input']) < 0.01
    assert math.isinf(off['detail_3'])
    assert abs(off['offset'] - off['input']) < 0.01  # the offset is all there is
    # the checkerboard is all detail (its blur is ~0 away from the borders)
    assert chk['base_3'] > chk['input'] + 20
    assert abs(chk['detail_3'] - chk['input']) < 0.5
    assert math.isinf(chk['offset'])  # zero mean: without the detail nothing is left
    assert mean['input'] == (off['input'] + chk['input']) / 2


def test_grey_detail_is_the_channel_mean_less_its_blur():
    rng = np.random.default_rng(1)
    clean = rng.uniform(0, 1, (32, 24, 3))
    layer = rng.uniform(-0.2, 0.2, (32, 24, 3))
    grey = layer.mean(2)
    # by hand: the grey layer less its Gaussian blur (reflected borders), whatever the clean image
    expected = grey - cv2.GaussianBlur(grey, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT)
    got = error_bands.grey_detail(clean + layer, clean, 2.0)
    assert got.shape == (32, 24)
    assert np.abs(got - expected).max() < 1e-9
    # an offset lies in the base band alone
    assert np.abs(error_bands.grey_detail(clean + 0.1, clean)).max() < 1e-9


def test_missing_split_is_named(tmp_path, capsys):
    assert error_bands_tool.main(['--root', str(tmp_path / 'none')]) == 2
    assert 'none/input does not exist' in capsys.readouterr().err


def test_band_removal_by_construction():
    rng = np.random.default_rng(1)
    clean = rng.integers(60, 190, (48, 40, 3)).astype(np.float64)
    checker = (np.indices((48, 40)).sum(0) % 2 * 2 - 1)[..., None] * 10.0
    rainy = clean + 12 + checker  # an offset (base band) and a checkerboard (detail band)
    removal = error_bands.band_removal
    assert removal(rainy, clean, clean) == {'detail_removed': 1.0, 'base_removed': 1.0,
                                            'detail_projection': 1.0}
    assert removal(rainy, rainy, clean) == {'detail_removed': 0.0, 'base_removed': 0.0,
                                            'detail_projection': 0.0}
    only_offset_left = removal(rainy, clean + 12, clean)
    assert only_offset_left['detail_removed'] == 1.0
    assert abs(only_offset_left['base_removed']) < 0.02  # the checker's blur is ~0
    doubled = removal(rainy, clean + 12 + 2 * checker, clean)
    assert abs(doubled['detail_removed'] + 1.0) < 0.02  # twice the streaks: -100 %
    assert abs(doubled['detail_projection'] + 1.0) < 0.02
    # half the streaks taken away plus an unrelated pattern of the same size: the net share
    # counts the pattern, the projection does not
    other = (np.indices((48, 40))[0] % 2 * 2 - 1)[..., None] * 10.0  # row stripes
    mixed = removal(rainy, clean + 12 + 0.5 * checker + other, clean)
    assert abs(mixed['detail_projection'] - 0.5) < 0.03
    assert mixed['detail_removed'] < 0
    # no error in a band: nothing to remove there
    assert math.isnan(removal(clean, clean, clean)['detail_removed'])


def test_outputs_are_measured_by_name(tmp_path, capsys):
    rng = np.random.default_rng(2)
    clean = rng.integers(60, 190, (32, 32, 3)).astype(np.uint8)
    checker = (np.indices((32, 32)).sum(0) % 2 * 2 - 1)[..., None] * 8
    rainy = (clean.astype(int) + checker).astype(np.uint8)
    write_pair(tmp_path, 'a.png', rainy, clean)
    out = tmp_path / 'model'
    out.mkdir()
    cv2.imwrite(str(out / 'a.png'), clean[..., ::-1])
    rows, mean = error_bands.measure_outputs(str(tmp_path / 'input'), str(tmp_path / 'target'),
                                             str(out))
    assert rows[0]['detail_removed'] == 1.0 and math.isinf(rows[0]['psnr'])
    assert error_bands_tool.main(['--root', str(tmp_path), '--sigmas', '3',
                             '--outputs', str(out)]) == 0
    assert '| 100.0 % |' in capsys.readouterr().out
    (out / 'a.png').unlink()
    try:
        error_bands.measure_outputs(str(tmp_path / 'input'), str(tmp_path / 'target'), str(out))
    except FileNotFoundError as e:
        assert 'a.png' in str(e)
    else:
        raise AssertionError('a missing output must be named')


def test_figure_shows_each_output_over_its_detail_error(tmp_path):
    clean = np.full((16, 20, 3), 100, np.uint8)
    rainy = clean.copy()
    rainy[:, 10] = 180  # one bright streak
    write_pair(tmp_path, 'a.png', rainy, clean)
    out = tmp_path / 'model'
    out.mkdir()
    cv2.imwrite(str(out / 'a.png'), clean[..., ::-1])
    path = str(tmp_path / 'fig.png')
    assert error_bands_tool.main(['--root', str(tmp_path), '--sigmas', '3', '--outputs', str(out),
                             '--labels', 'perfect', '--figure', path]) == 0
    fig = cv2.imread(path)[..., ::-1]
    assert fig.shape == (24 + 2 * 16, 3 * 20, 3)  # header, images, error maps; 3 columns
    maps = fig[24 + 16:]
    assert (maps[:, 10, 0] > 200).all() and (maps[:, 20:] == 128).all()  # the streak; none left
    # an image of another size is scaled to the first one's column width
    write_pair(tmp_path, 'b.png', np.full((30, 40, 3), 90, np.uint8),
               np.full((30, 40, 3), 90, np.uint8))
    cv2.imwrite(str(out / 'b.png'), np.full((30, 40, 3), 90, np.uint8))
    assert error_bands_tool.main(['--root', str(tmp_path), '--outputs', str(out), '--figure',
                                  path, '--figure-images', 'a.png', 'b.png']) == 0
    assert cv2.imread(path).shape == (24 + 2 * 16 + 2 * 15, 3 * 20, 3)
    with pytest.raises(SystemExit):  # one label per output folder
        error_bands_tool.main(['--root', str(tmp_path), '--outputs', str(out), '--labels', 'a', 'b'])


def test_outputs_per_rain_kind_on_demo_data(tmp_path, capsys):
    """Where a demo manifest records each image's kind, every score is also averaged per
    kind: an output equal to the clean image takes all of its kind's streak layer, one
    equal to the rainy image none."""
    import json
    rng = np.random.default_rng(3)
    checker = (np.indices((32, 32)).sum(0) % 2 * 2 - 1)[..., None] * 8
    out = tmp_path / 'model'
    out.mkdir()
    images = []
    for name, kind, kept in (('a.png', 'drops', False), ('b.png', 'layered', True),
                             ('c.png', 'layered', True)):
        clean = rng.integers(60, 190, (32, 32, 3)).astype(np.uint8)
        rainy = (clean.astype(int) + checker).astype(np.uint8)
        write_pair(tmp_path, name, rainy, clean)
        cv2.imwrite(str(out / name), (rainy if kept else clean)[..., ::-1])
        images.append(dict(file=f'input/{name}', rain_kind=kind))
    (tmp_path / 'manifest.json').write_text(json.dumps(dict(images=images)))
    assert error_bands_tool.main(['--root', str(tmp_path), '--sigmas', '3', '--outputs',
                                  str(out), '--json', str(tmp_path / 'r.json')]) == 0
    text = capsys.readouterr().out
    assert 'Per rain kind' in text and '| layered | drops |' in text
    per_kind = json.loads((tmp_path / 'r.json').read_text())['outputs'][str(out)]['per_kind']
    assert list(per_kind) == ['layered', 'drops']  # the kinds' own order
    assert per_kind['drops']['detail_projection'] == pytest.approx(1.0)
    assert per_kind['layered']['detail_projection'] == pytest.approx(0.0, abs=1e-9)
    assert per_kind['layered']['images'] == 2
    input_psnr = np.mean([y_metrics(cv2.imread(str(tmp_path / 'input' / n))[..., ::-1],
                                    cv2.imread(str(tmp_path / 'target' / n))[..., ::-1])[0]
                          for n in ('b.png', 'c.png')])
    assert per_kind['layered']['psnr'] == pytest.approx(input_psnr)
    assert f"0.0 % / 0.0 % / {input_psnr:.2f}" in text
    assert f'| input O | {input_psnr:.2f} |' in text
