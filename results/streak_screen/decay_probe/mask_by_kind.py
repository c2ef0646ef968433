"""Where the streak light's mask stays on, per rain kind and on the clean cells.

    python mask_by_kind.py CHECKPOINT DATA_ROOT   (DATA_ROOT: the same_places demo data)

Prints, per group of cells, the mask's mean, its mean weighted by the streak light (the
share of the streak light taken away where there is streak light to take) and the second
mask's mean (0 without ``off_streak_light``).
"""
import glob
import json
import os.path as osp
import sys
from collections import defaultdict

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..')))
from nlcl_plugin.inference import image_to_tensor  # noqa: E402
from nlcl_plugin.models.checkpoint import build_generator  # noqa: E402
from nlcl_plugin.models.streak_light import streak_light_of_thin  # noqa: E402
from nlcl_plugin.models.thin_light import white_top_hat  # noqa: E402


def stats(net, path):
    rgb = cv2.imread(path)[:, :, ::-1]
    x = image_to_tensor(rgb)
    with torch.no_grad():
        out = net.forward_features(x, [net.num_layers - 1])[0]  # the last layer's
        m = net.thin_light_mask(out)
        m_o = net.off_streak_mask(out) if net.off_streak_light else torch.zeros_like(m)
        light = streak_light_of_thin(white_top_hat(x, net.thin_light_size), net.streak_length,
                                     restore=net.streak_restore)
    w = light.mean(1, keepdim=True)
    return float(m.mean()), float((m * w).sum() / w.sum().clamp(min=1e-8)), float(m_o.mean())


def main():
    ckpt, root = sys.argv[1:3]
    net = build_generator(ckpt).eval()
    images = json.load(open(osp.join(root, 'manifest.json')))['images']
    groups = defaultdict(list)
    for e in images:
        if e['split'] == 'train_rainy':
            groups[e['rain_kind']].append(stats(net, osp.join(root, e['file'])))
    for f in sorted(glob.glob(osp.join(root, 'train_clean', '*.png'))):
        groups['clean cells'].append(stats(net, f))
    print(ckpt)
    for name, v in sorted(groups.items()):
        v = np.array(v)
        print(f'  {name:18s} mask {v[:, 0].mean():.3f}  where streak light {v[:, 1].mean():.3f}'
              f'  second mask {v[:, 2].mean():.3f}')


if __name__ == '__main__':
    main()
