"""Diagnostic data: rainy and clean crops of the same scenes, drawn from the same places.

Each rainy source photograph of the demo data (astronaut, motorcycle_left, china;
motorcycle_right is left out: it is the left one's stereo twin) is cut into a grid of
128 x 128 cells laid as a checkerboard: the cells of one colour become rainy crops (each
rendered twice with the demo's training kinds, their rain-free twins kept), those of the
other colour clean crops. No pixel is shared, and both folders cover every part of every
photograph, so their contents have the same distribution (the same-scene folders of 4.10
took left halves against right halves).

The demo data's layout ``same_places`` (``nlcl_plugin/data/demo_data.py``) builds these
cells; with the master seed 0 they are, byte for byte, the cells this builder wrote when
4.12 was measured (its ``crops.json`` is now the manifest's boxes).

    .venv/bin/python results/streak_screen/checker_scenes/build_checker_scenes.py work_dirs/checker_scenes
"""
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, REPO)

from nlcl_plugin.data.demo_data import prepare_demo_data  # noqa: E402

if __name__ == '__main__':
    prepare_demo_data(sys.argv[1], layout='same_places', verbose=True)
