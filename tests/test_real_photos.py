"""Real rainy photographs (no clean twin): NIQE against MMagic's function, the rows and
the figure of nlcl_plugin.evaluation.real_photos, and tools/zoo_real_photos.py on a
results file whose model is the released demo model."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from nlcl_plugin.evaluation import real_photos

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RELEASED = 'model_zoo/nlcl_demo_s2022/nlcl_demo_s2022.pth'


def photos(root, released=True, n=2):
    """``root/rainy/pN.JPG`` (textured, 192x288) and ``root/derained/pN.png``."""
    rng = np.random.default_rng(0)
    (root / 'rainy').mkdir(parents=True)
    if released:
        (root / 'derained').mkdir()
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 255, (192, 288, 3)).astype(np.uint8), (0, 0), 2)
        cv2.imwrite(str(root / 'rainy' / f'p{i}.JPG'), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        if released:
            cv2.imwrite(str(root / 'derained' / f'p{i}.png'), cv2.GaussianBlur(img, (0, 0), 1))
    return root


def test_niqe_of_is_mmagic_niqe_on_y():
    from mmagic.evaluation.metrics.niqe import niqe
    rng = np.random.default_rng(1)
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (192, 192, 3)).astype(np.uint8), (0, 0), 1.5)
    ref = niqe(rgb[..., ::-1].copy(), crop_border=0, input_order='HWC', convert_to='y')
    assert real_photos.niqe_of(rgb) == pytest.approx(float(ref), rel=1e-6)
    # on Y: the channels' order matters (MMagic's conversion takes BGR)
    assert real_photos.niqe_of(rgb[..., ::-1].copy()) != pytest.approx(float(ref), rel=1e-6)


def test_rows_and_figure(tmp_path):
    from nlcl_plugin.image_io import read_image
    root = photos(tmp_path / 'official')

    def darker(rgb):
        return (np.clip(rgb.astype(int) - 20, 0, 255).astype(np.uint8), None)

    rows, pictures = real_photos.run_models(
        [('same', lambda rgb: (rgb, None)), ('darker', darker)], str(root / 'rainy'),
        str(root / 'derained'))
    assert [r['label'] for r in rows] == ['rainy photograph', "authors' released NLCL",
                                          'same', 'darker']
    assert rows[0]['names'] == ['p0.JPG', 'p1.JPG'] and list(pictures) == rows[0]['names']
    rainy = read_image(str(root / 'rainy' / 'p1.JPG'))[0]
    released = read_image(str(root / 'derained' / 'p1.png'))[0]
    assert rows[0]['niqe_per_image'][1] == real_photos.niqe_of(rainy)
    assert rows[1]['niqe_per_image'][1] == real_photos.niqe_of(released)
    assert rows[2]['niqe_per_image'] == rows[0]['niqe_per_image']  # the identity
    assert rows[3]['niqe'] == pytest.approx(np.mean(rows[3]['niqe_per_image']))
    np.testing.assert_array_equal(pictures['p1.JPG'][3], darker(rainy)[0])
    path = real_photos.photos_figure(pictures, [r['label'] for r in rows],
                                     str(tmp_path / 'fig.png'), panel_width=96)
    fig = read_image(path)[0]
    assert fig.shape == (24 + 2 * 64, 4 * 96, 3)  # title band, 2 photos of 96x64 per panel
    # without a released output for every photograph, no released row
    (root / 'derained' / 'p1.png').unlink()
    rows, _ = real_photos.run_models([('same', lambda rgb: (rgb, None))],
                                     str(root / 'rainy'), str(root / 'derained'))
    assert [r['label'] for r in rows] == ['rainy photograph', 'same']


def tool():
    spec = importlib.util.spec_from_file_location(
        'nlcl_tool_zoo_real_photos', osp.join(REPO, 'tools', 'zoo_real_photos.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_runs_the_results_models(tmp_path, capsys):
    root = photos(tmp_path / 'official')
    results = tmp_path / 'results.json'
    results.write_text(json.dumps(dict(methods=[dict(
        name='nlcl_recommended', label='NLCL (released demo model)',
        config='configs/nlcl_demo.py', checkpoint=RELEASED)])))
    out = tmp_path / 'photos.json'
    assert tool().main(['--results', str(results), '--official-dir', str(root),
                        '--figure', str(tmp_path / 'fig.jpg'), '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'note: restormer is not in' in text
    rows = json.loads(out.read_text())['rows']
    assert [r['label'] for r in rows] == ['rainy photograph', "authors' released NLCL",
                                          'nlcl_recommended']
    assert rows[2]['method'] == 'NLCL (released demo model)'
    assert f"| nlcl_recommended | {rows[2]['niqe']:.3f} | NLCL (released demo model) |" in text
    assert osp.isfile(tmp_path / 'fig.jpg')


def test_tool_without_the_photos(tmp_path, monkeypatch, capsys):
    module = tool()
    monkeypatch.setattr(module, 'REPO', str(tmp_path / 'repo'))
    monkeypatch.delenv('NLCL_OFFICIAL_DIR', raising=False)
    assert module.main(['--results', str(tmp_path / 'none.json')]) == 0
    assert 'nothing to show' in capsys.readouterr().out
