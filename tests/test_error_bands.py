"""tools/error_bands.py: a constant offset lies in the base band, a fine checkerboard in the
detail band (references: the PSNR of the pair itself)."""
import math
import os.path as osp
import sys

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import error_bands  # noqa: E402
from demo_report import y_metrics  # noqa: E402


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


def test_missing_split_is_named(tmp_path, capsys):
    assert error_bands.main(['--root', str(tmp_path / 'none')]) == 2
    assert 'none/input does not exist' in capsys.readouterr().err
