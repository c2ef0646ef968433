"""What a light form can take away at best (nlcl_plugin/evaluation/light_forms.py,
tools/light_forms.py): the best mask against a brute-force search, and the bounds on a
folder whose rain is known by construction."""
import json
import math
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import light_forms as light_forms_tool  # noqa: E402

from nlcl_plugin.evaluation.light_forms import (best_mask, form_bounds,  # noqa: E402
                                                form_light, parse_form)


def test_best_mask_is_the_brute_force_least_squares_share():
    g = torch.Generator().manual_seed(3)
    light = torch.rand(2, 3, 6, 5, generator=g, dtype=torch.float64)
    light[0, :, 0, 0] = 0  # no light: share 0
    clean = torch.rand(2, 3, 6, 5, generator=g, dtype=torch.float64)
    rainy = clean + (torch.rand(2, 1, 6, 5, generator=g, dtype=torch.float64) * 1.6 - 0.3) * light \
        + 0.05 * torch.randn(2, 3, 6, 5, generator=g, dtype=torch.float64)
    m = best_mask(rainy, clean, light)
    assert m.shape == (2, 1, 6, 5)
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64)
    # squared error of O - s L against B for every share s on the grid, per pixel
    err = ((rainy[None] - grid[:, None, None, None, None] * light[None] - clean[None]) ** 2).sum(2)
    brute = grid[err.argmin(0)]
    torch.testing.assert_close(m[:, 0], brute, atol=1e-3, rtol=0)
    assert m[0, 0, 0, 0] == 0


def _draw_streaks(img, angle, value, width=1):
    t = math.radians(angle)
    for cx in range(8, img.shape[1], 14):
        dx, dy = math.sin(t) * 20, math.cos(t) * 20
        for cy in range(16, img.shape[0], 40):
            cv2.line(img, (int(round(cx - dx)), int(round(cy - dy))),
                     (int(round(cx + dx)), int(round(cy + dy))), value, width)


def _pair_folder(tmp_path, n=2):
    rng = np.random.default_rng(0)
    for sub in ('rainy', 'clean'):
        (tmp_path / sub).mkdir()
    for i in range(n):
        yy, xx = np.mgrid[0:80, 0:72]
        clean = np.stack([60 + yy, 80 + xx, 120 + 0 * yy], -1).astype(np.float64)
        clean += rng.normal(0, 2, clean.shape)
        rain = np.zeros((80, 72), np.float64)
        _draw_streaks(rain, 15.0 * (i + 1), 70.0, 2)
        rainy = clean + rain[..., None]
        for sub, img in (('rainy', rainy), ('clean', clean)):
            cv2.imwrite(str(tmp_path / sub / f'im{i}.png'),
                        np.clip(img, 0, 255).round().astype(np.uint8)[..., ::-1])
    return str(tmp_path / 'rainy'), str(tmp_path / 'clean')


def test_bounds_of_known_streaks(tmp_path):
    """Long thin streaks over a smooth image: the thin light's best mask takes nearly all
    of the streak layer, the streak light's fixed filter most of it, and neither adds
    detail-band error where there is no texture to strike."""
    rainy, clean = _pair_folder(tmp_path)
    res = form_bounds(rainy, clean, ['thin:5', 'streak:5:11'])
    assert res['names'] == ['im0.png', 'im1.png'] and res['kinds'] == {}
    thin, streak = res['forms']['thin:5'], res['forms']['streak:5:11']
    assert thin['best']['mean']['detail_projection'] > 0.9
    assert streak['fixed']['mean']['detail_projection'] > 0.6
    for form in (thin, streak):
        best, fixed = form['best']['mean'], form['fixed']['mean']
        # the best mask is never worse than the fixed filter or than the input
        assert best['psnr'] >= fixed['psnr'] - 0.05 and best['psnr'] > res['input']['psnr']
        assert len(form['best']['per_image']['psnr']) == 2
        assert form['best']['per_kind'] == {}


def test_bad_input_is_named(tmp_path):
    rainy, clean = _pair_folder(tmp_path)
    (tmp_path / 'clean' / 'im1.png').unlink()
    with pytest.raises(FileNotFoundError, match='im1.png'):
        form_bounds(rainy, clean, ['thin:5'])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no image'):
        form_bounds(str(tmp_path / 'empty'), clean, ['thin:5'])
    for bad in ('thin', 'streak:5', 'blob:3', 'thin:x'):
        with pytest.raises(ValueError, match='light form'):
            parse_form(bad)
    assert parse_form('streak:7:21') == dict(size=7, length=21, restore=0)
    assert parse_form('streak:7:21:2') == dict(size=7, length=21, restore=2)
    assert parse_form('thin:7') == dict(size=7, length=0, restore=0)


def test_form_light_is_the_generators():
    from nlcl_plugin.models.generator import DecompositionGenerator
    x = torch.rand(1, 3, 40, 36) * 2 - 1
    g = DecompositionGenerator(mid_channels=4, num_blocks=1, residual=True, removes_light=True,
                               thin_light_size=5, streak_length=11)
    torch.testing.assert_close(form_light(x, 5, 11), g.thin_light(x))
    g = DecompositionGenerator(mid_channels=4, num_blocks=1, residual=True, removes_light=True,
                               thin_light_size=5, streak_length=11, streak_restore=2)
    torch.testing.assert_close(form_light(x, 5, 11, 2), g.thin_light(x))


def test_tool_prints_the_table_and_writes_json(tmp_path, capsys):
    rainy, clean = _pair_folder(tmp_path)
    out = tmp_path / 'b.json'
    assert light_forms_tool.main(['--inputs', rainy, '--targets', clean, '--forms', 'thin:5',
                                  '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert '| thin:5, best mask |' in text and '| thin:5, fixed filter |' in text
    assert set(json.loads(out.read_text())['forms']) == {'thin:5'}
    assert light_forms_tool.main(['--inputs', str(tmp_path / 'nope'), '--targets', clean]) == 2
    with pytest.raises(SystemExit):
        light_forms_tool.main(['--inputs', rainy, '--targets', clean, '--forms', 'thin'])
