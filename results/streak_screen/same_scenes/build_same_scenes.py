"""Diagnostic data for docs/training.md 4.10: rainy crops and clean crops of the same
scenes that share no pixel. For each rainy source photograph of the demo data
(astronaut, motorcycle_left, motorcycle_right, china), 12 rainy crops come from its left
half (rendered with the demo's training kinds, their rain-free twins kept) and 12 clean
crops from its right half.

    .venv/bin/python results/streak_screen/same_scenes/build_same_scenes.py work_dirs/same_scenes
"""
import json
import os
import os.path as osp
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, REPO)

from nlcl_plugin.data.demo_data import DEMO_SOURCES, _load_source, _write_png  # noqa: E402
from nlcl_plugin.data.rain_kinds import sample_training_kind  # noqa: E402
from nlcl_plugin.data.rain_renderer import render_scene  # noqa: E402


def crop_box(rng, h, w, lo=160, hi=256):
    ch = min(int(rng.integers(lo // 8, hi // 8 + 1)) * 8, h)
    cw = min(int(rng.integers(lo // 8, hi // 8 + 1)) * 8, w)
    return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw


def main(out):
    for sub in ('train_rainy', 'train_target', 'train_clean'):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    entries = []
    for p, name in enumerate(DEMO_SOURCES['train_rainy']):
        photo = _load_source(name)
        h, w = photo.shape[:2]
        half = w // 2
        for k in range(12):
            rng = np.random.default_rng([2026, p, k])
            t, l, ch, cw = crop_box(rng, h, half)
            clean = np.ascontiguousarray(photo[t:t + ch, l:l + cw])
            kind, scene = sample_training_kind(rng)
            rainy, _ = render_scene(clean, scene, seed=rng)
            base = f'rain_{name}_{k:02d}.png'
            _write_png(osp.join(out, 'train_target', base), clean)
            _write_png(osp.join(out, 'train_rainy', base), rainy)
            entries.append(dict(file=base, box=[t, l, ch, cw], kind=kind))
            t, l, ch, cw = crop_box(rng, h, w - half)
            other = np.ascontiguousarray(photo[t:t + ch, half + l:half + l + cw])
            _write_png(osp.join(out, 'train_clean', f'clean_{name}_{k:02d}.png'), other)
            entries.append(dict(file=f'clean_{name}_{k:02d}.png', box=[t, half + l, ch, cw]))
    with open(osp.join(out, 'crops.json'), 'w') as f:
        json.dump(entries, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1])
