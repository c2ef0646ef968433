"""How often the streak light's dominant direction misses the rain's (docs/training.md 4.11):
for every rainy image of a demo data folder with streaks (every kind but drops, which have
no direction), the candidate angle :func:`dominant_angle` picks from O's thin light T_7 with
21-pixel lines, against the first streak layer's angle in the manifest.

    .venv/bin/python results/streak_screen/direction/direction_misses.py data/nlcl_demo
"""
import json
import os.path as osp
import sys
from collections import Counter

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))

from nlcl_plugin.models.streak_light import STREAK_ANGLES, dominant_angle  # noqa: E402
from nlcl_plugin.models.thin_light import white_top_hat  # noqa: E402


def main(root):
    with open(osp.join(root, 'manifest.json')) as f:
        manifest = json.load(f)
    total, off10, off30 = Counter(), Counter(), Counter()
    for e in manifest['images']:
        if e['split'] not in ('train_rainy', 'test') or e['rain_kind'] == 'drops':
            continue
        bgr = cv2.imread(osp.join(root, e['file']))
        x = torch.from_numpy(bgr[:, :, ::-1].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
        with torch.no_grad():
            chosen = STREAK_ANGLES[int(dominant_angle(white_top_hat(x[None], 7), 21)[0])]
        true = e['rain']['layers'][0]['angle_deg']
        miss = abs((chosen - true + 90) % 180 - 90)
        key = (e['split'], e['rain_kind'])
        total[key] += 1
        off10[key] += miss > 10
        off30[key] += miss > 30
        if miss > 10:
            print(f'{e["file"]}: chosen {chosen:+.1f}, rain {true:+.1f} degrees')
    print('| split | kind | images | off by > 10 degrees | off by > 30 degrees |')
    print('| --- | --- | ---: | ---: | ---: |')
    for key in sorted(total):
        print(f'| {key[0]} | {key[1]} | {total[key]} | {off10[key]} | {off30[key]} |')


if __name__ == '__main__':
    main(sys.argv[1])
