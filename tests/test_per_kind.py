"""Metrics per rain kind: grouping against a hand computation, the demo manifest, the report."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from nlcl_plugin.evaluation import kinds_of_folder, per_kind_means


def test_per_kind_means_by_hand():
    names = ['a_drops.png', 'b_layered.png', 'c_drops.png', 'd.png']
    kinds = {'a_drops.png': 'drops', 'b_layered.png': 'layered', 'c_drops.png': 'drops'}
    out = per_kind_means(names, {'psnr': [20.0, 30.0, 26.0, 99.0], 'ssim': [0.5, 0.9, 0.7, 0.0]},
                         kinds, order=('layered', 'drops'))
    assert list(out) == ['layered', 'drops']  # the order asked for
    assert out['drops'] == pytest.approx(dict(psnr=23.0, ssim=0.6, images=2))
    assert out['layered'] == pytest.approx(dict(psnr=30.0, ssim=0.9, images=1))
    # kinds are looked up by basename; images without a kind are left out
    assert per_kind_means(['x/a_drops.png'], {'psnr': [1.0]}, kinds) == {
        'drops': dict(psnr=1.0, images=1)}
    assert per_kind_means(names, {'psnr': [1.0] * 4}, {}) == {}
    with pytest.raises(ValueError, match='psnr: 3 scores for 4 images'):
        per_kind_means(names, {'psnr': [1.0] * 3}, kinds)


def _fake_split(root, kinds):
    """A demo-like folder: test/input + test/target PNGs and a manifest with their kinds."""
    import cv2
    rng = np.random.default_rng(0)
    entries = []
    for i, kind in enumerate(kinds):
        name = f'img_{i:02d}_{kind}.png'
        clean = rng.integers(40, 200, (32, 32, 3), dtype=np.uint8)
        streaks = np.zeros((32, 32, 1), int)
        streaks[:, ::4] = 40  # bright vertical lines: detail-band error
        rainy = np.clip(clean.astype(int) + (i + 1) * 6 + streaks, 0, 255).astype(np.uint8)
        for sub, img in (('input', rainy), ('target', clean)):
            os.makedirs(osp.join(root, 'test', sub), exist_ok=True)
            cv2.imwrite(osp.join(root, 'test', sub, name), img)
        entries.append({'split': 'test', 'file': f'test/input/{name}', 'rain_kind': kind})
    with open(osp.join(root, 'manifest.json'), 'w') as f:
        json.dump({'images': entries}, f)


def test_kinds_of_folder_reads_the_manifest_above(tmp_path):
    root = str(tmp_path / 'demo')
    _fake_split(root, ['drops', 'layered'])
    expected = {'img_00_drops.png': 'drops', 'img_01_layered.png': 'layered'}
    assert kinds_of_folder(osp.join(root, 'test', 'input')) == expected
    assert kinds_of_folder(osp.join(root, 'test')) == expected
    assert kinds_of_folder(str(tmp_path)) == {}


def test_report_rows_are_split_per_kind(tmp_path):
    """report.evaluate: each kind's means equal the per-image scores of its images."""
    from nlcl_plugin.evaluation.report import evaluate
    root = str(tmp_path / 'demo')
    _fake_split(root, ['drops', 'layered', 'drops'])

    def darker(img):
        return (np.clip(img.astype(int) - 3, 0, 255).astype(np.uint8),)

    rows, _ = evaluate([('input', None), ('darker', darker)], osp.join(root, 'test'))
    for row in rows:
        per = row['per_kind']
        assert list(per) == ['layered', 'drops']  # RAIN_KINDS order
        assert per['drops']['images'] == 2 and per['layered']['images'] == 1
        assert per['drops']['psnr'] == pytest.approx(
            (row['psnr_per_image'][0] + row['psnr_per_image'][2]) / 2)
        assert per['layered']['detail_projection'] == pytest.approx(
            row['detail_projection_per_image'][1])
    # the darker output undoes half of the first image's offset: better there than the input
    assert rows[1]['psnr_per_image'][0] > rows[0]['psnr_per_image'][0]
