"""Learning curves of the long same-scene diagnostics (docs/training.md 4.11): per run, the
share of the streak layer taken away and the detail-band error removed on the 48 left-half
rainy crops against their twins, at every scored iteration (``bands_train_<N>.json`` from
tools/error_bands.py in ``results/streak_screen/<run>/``).

    .venv/bin/python results/streak_screen/same_scenes/plot_long.py docs/figures/same_scenes_long.png \
        long_ss_init02 long_ss_init02_identity ...
"""
import glob
import json
import os.path as osp
import re
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

HERE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def curve(run):
    points = []
    for path in glob.glob(osp.join(HERE, run, 'bands_train_*.json')):
        n = int(re.search(r'bands_train_(\d+)\.json$', path).group(1))
        with open(path) as f:
            mean = next(iter(json.load(f)['outputs'].values()))['mean']
        points.append((n, 100 * mean['detail_projection'], 100 * mean['detail_removed']))
    return sorted(points)


def main(out, runs):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for run in runs:
        pts = curve(run)
        its = [p[0] for p in pts]
        line, = axes[0].plot(its, [p[1] for p in pts], marker='o', label=run)
        axes[1].plot(its, [p[2] for p in pts], marker='o', color=line.get_color())
    axes[0].set_title('streak layer taken away (%)')
    axes[1].set_title('detail-band error removed (%)')
    axes[1].axhline(0, color='k', lw=0.8)
    for ax in axes:
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
