"""The discriminator probe (tools/discriminator_probe.py): the scores it reports, against hand-computed values, and
the split that keeps the scored crops out of the discriminator's training."""
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from nlcl_plugin.evaluation import discriminator_probe


def test_scored_crops_are_never_trained_on():
    for num in (1, 2, 7, 48):
        train, held = discriminator_probe.held_out_pairs(num)
        assert not set(train) & set(held)
        assert sorted(train + held) == list(range(num))
        assert len(train) - len(held) in (0, 1)


def test_rain_scores_by_hand():
    rainy = np.array([0.2, 0.4, 0.3, 0.5])
    twin = np.array([0.3, 0.3, 0.5, 0.6])
    clean = np.array([0.8, 0.6])
    r = discriminator_probe.rain_scores(rainy, twin, clean)
    assert math.isclose(r['d_rainy'], 0.35) and math.isclose(r['d_rain_free'], 0.425)
    assert math.isclose(r['d_clean'], 0.7)
    assert math.isclose(r['gap'], 0.075)
    assert r['pair_accuracy'] == 0.75  # the second pair is the wrong way round
    assert math.isclose(r['rain_share'], 0.075 / 0.35)
    # a discriminator that cannot tell the folders apart has no share to report
    assert math.isnan(discriminator_probe.rain_scores(rainy, twin, rainy)['rain_share'])


def test_centre_crop():
    x = torch.arange(2 * 6 * 8, dtype=torch.float32).reshape(2, 6, 8)
    c = discriminator_probe.centre(x, 4)
    assert c.shape == (1, 2, 4, 4)
    assert torch.equal(c[0], x[:, 1:5, 2:6])


def test_late_summary_averages_the_last_third():
    rows = [dict(step=s, loss=s / 100, gap=0.01 * s / 50, pair_accuracy=0.5, rain_share=0.1)
            for s in (50, 100, 150, 200, 250, 300)]
    late = discriminator_probe.late_summary(rows, 300)
    assert math.isclose(late['loss'], 2.5)  # steps 200, 250, 300
    assert math.isclose(late['gap'], 0.05)
    assert late['pair_accuracy'] == 0.5 and math.isclose(late['rain_share'], 0.1)
    # a run too short for a third: its last check
    assert discriminator_probe.late_summary(rows[:1], 1000)['loss'] == 0.5


def _folders(root, n=4, size=40):
    rng = np.random.default_rng(0)
    paths = {}
    root.mkdir(exist_ok=True)
    for sub in ('train_rainy', 'train_clean', 'train_target'):
        paths[sub] = str(root / sub)
        (root / sub).mkdir()
        for i in range(n):
            cv2.imwrite(str(root / sub / f'{i:02d}.png'),
                        rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return paths


def test_probe_on_given_folders_reports_what_d_learnt_by_heart(tmp_path):
    rows = discriminator_probe.probe(None, steps=3, crop=32, norm='none', init_gain=1.0,
                                     disc_input='gray_detail', augment='dihedral',
                                     r1_gamma=0.5, batch=2, folders=_folders(tmp_path))
    assert [r['step'] for r in rows] == [3]
    r = rows[0]
    assert math.isclose(r['memorised'], r['d_clean_seen'] - r['d_clean'])
    assert math.isclose(r['memorised_fake'], r['d_rainy'] - r['d_rainy_seen'])
    assert all(math.isfinite(r[k]) for k in ('loss', 'd_clean_seen', 'd_rainy_seen'))
    with pytest.raises(ValueError, match='augment'):
        discriminator_probe.probe(None, steps=1, crop=32, augment='mixup',
                                  folders=_folders(tmp_path / 'other'))


def test_probe_command_line_on_given_folders(tmp_path, repo_root):
    paths = _folders(tmp_path)
    out = subprocess.run(
        [sys.executable, 'tools/discriminator_probe.py', '--steps', '2', '--crop', '32',
         '--augment', 'dihedral', '--folders', paths['train_rainy'], paths['train_clean'],
         paths['train_target']], cwd=repo_root, capture_output=True, text=True, check=True)
    assert 'augment=dihedral' in out.stdout and 'trained on - held out' in out.stdout
    bad = subprocess.run(
        [sys.executable, 'tools/discriminator_probe.py', '--folders', str(tmp_path / 'none'),
         paths['train_clean'], paths['train_target']], cwd=repo_root, capture_output=True,
        text=True)
    assert bad.returncode != 0 and 'none is not a folder' in bad.stderr
