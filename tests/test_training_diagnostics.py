"""tools/training_diagnostics.py --train-pairs scores every checkpoint on the training
crops against their rain-free twins (reference: a hand-built G_B whose output is the
input shifted by a known number of grey levels, and the closed-form PSNR of a shift)."""
import math
import os
import sys

import cv2
import numpy as np
import pytest

from test_ship_model import FREE_RESIDUAL, write_run  # noqa: F401

from nlcl_plugin.evaluation import diagnostics  # noqa: E402
from nlcl_plugin.mmagic.runner_utils import load_config  # noqa: E402


def shift_psnr(levels):
    """PSNR on MMagic's Y (16-235 scale) of an RGB image shifted by ``levels`` everywhere."""
    return 20 * math.log10(255 / (abs(levels) * (65.481 + 128.553 + 24.966) / 255))


def test_train_pairs_scores_the_input_and_every_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    for split, rainy_dir, clean_dir in (('test', 'test/input', 'test/target'),
                                        ('train', 'train_rainy', 'train_target')):
        for i in range(2):
            clean = rng.integers(40, 200, (36, 44, 3)).astype(np.uint8)
            for sub, img in ((rainy_dir, clean + 10), (clean_dir, clean)):
                os.makedirs(tmp_path / sub, exist_ok=True)
                cv2.imwrite(str(tmp_path / sub / f'{split}{i}.png'), img)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = [{FREE_RESIDUAL!r}]\n"
                   f"test_dataloader = dict(dataset=dict(data_root={str(tmp_path / 'test')!r}))\n")
    work = write_run(tmp_path, str(cfg), offset=-4)  # B = O - 4 grey levels
    rows = diagnostics.train_pairs_validation(load_config(str(cfg)), work)
    assert [r['step'] for r in rows] == [0, 2]
    assert rows[0]['PSNR'] == pytest.approx(shift_psnr(10), abs=0.05)
    assert rows[1]['PSNR'] == pytest.approx(shift_psnr(6), abs=0.05)
    assert rows[1]['SSIM'] > rows[0]['SSIM']


def test_train_pairs_needs_the_demo_layout(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = [{FREE_RESIDUAL!r}]\n"
                   f"test_dataloader = dict(dataset=dict(data_root={str(tmp_path / 'test')!r}))\n")
    with pytest.raises(FileNotFoundError, match='train_target'):
        diagnostics.train_pairs_validation(load_config(str(cfg)), str(tmp_path))
