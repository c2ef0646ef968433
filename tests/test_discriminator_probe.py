"""The discriminator probe (tools/discriminator_probe.py): the scores it reports, against hand-computed values, and
the split that keeps the scored crops out of the discriminator's training."""
import math

import numpy as np
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
