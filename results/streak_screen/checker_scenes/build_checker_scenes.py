"""Diagnostic data: rainy and clean crops of the same scenes, drawn from the same places.

Each rainy source photograph of the demo data (astronaut, motorcycle_left, china;
motorcycle_right is left out: it is the left one's stereo twin) is cut into a grid of
``CELL`` x ``CELL`` cells laid as a checkerboard: the cells of one colour become rainy
crops (each rendered ``VERSIONS`` times with the demo's training kinds, their rain-free
twins kept), those of the other colour clean crops. No pixel is shared, and both folders
cover every part of every photograph, so their contents have the same distribution
(the same-scene folders of 4.10 took left halves against right halves).

    .venv/bin/python results/streak_screen/checker_scenes/build_checker_scenes.py work_dirs/checker_scenes

The demo data's layout ``same_places`` (``nlcl_plugin/data/demo_data.py``, master seed 0)
builds the same cells, byte for byte, with a manifest.
"""
import json
import os
import os.path as osp
import sys

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, REPO)

from nlcl_plugin.data.demo_data import _load_source, _write_png  # noqa: E402
from nlcl_plugin.data.rain_kinds import sample_training_kind  # noqa: E402
from nlcl_plugin.data.rain_renderer import render_scene  # noqa: E402

SOURCES = ('astronaut', 'motorcycle_left', 'china')
CELL = 128
VERSIONS = 2


def main(out):
    for sub in ('train_rainy', 'train_target', 'train_clean'):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    entries = []
    for p, name in enumerate(SOURCES):
        photo = _load_source(name)
        h, w = photo.shape[:2]
        top, left = (h % CELL) // 2, (w % CELL) // 2
        for r in range(h // CELL):
            for c in range(w // CELL):
                t, l = top + r * CELL, left + c * CELL
                cell = np.ascontiguousarray(photo[t:t + CELL, l:l + CELL])
                if (r + c) % 2:
                    base = f'clean_{name}_{r}{c}.png'
                    _write_png(osp.join(out, 'train_clean', base), cell)
                    entries.append(dict(file=base, box=[t, l, CELL, CELL]))
                    continue
                for v in range(VERSIONS):
                    rng = np.random.default_rng([2026, p, r, c, v])
                    kind, scene = sample_training_kind(rng)
                    rainy, _ = render_scene(cell, scene, seed=rng)
                    base = f'rain_{name}_{r}{c}_{v}.png'
                    _write_png(osp.join(out, 'train_target', base), cell)
                    _write_png(osp.join(out, 'train_rainy', base), rainy)
                    entries.append(dict(file=base, box=[t, l, CELL, CELL], kind=kind))
    with open(osp.join(out, 'crops.json'), 'w') as f:
        json.dump(entries, f, indent=1)


if __name__ == '__main__':
    main(sys.argv[1])
