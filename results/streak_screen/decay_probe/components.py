"""Which term of G_B's removal strikes texture: per rain kind, the detail-band error
removed (Y, sigma 3) when B keeps only one of the three terms of O - B,

    free light  light_removed(z)             (anywhere, any shape)
    streak      m * S_{k,L}(O)               (the streak light's mask)
    off-streak  m_o * (T_k(O) - S_{k,L}(O))  (the second mask)

    python components.py CHECKPOINT RAINY_DIR TARGET_DIR MANIFEST

A term whose value here is below 0 adds detail-band error on its own: it takes texture.
"""
import json
import os.path as osp
import sys
from collections import defaultdict

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..')))
from nlcl_plugin.evaluation.error_bands import band_removal  # noqa: E402
from nlcl_plugin.inference import image_to_tensor  # noqa: E402
from nlcl_plugin.models.checkpoint import build_generator  # noqa: E402
from nlcl_plugin.models.generator import light_removed  # noqa: E402
from nlcl_plugin.models.streak_light import streak_light_of_thin  # noqa: E402
from nlcl_plugin.models.thin_light import white_top_hat  # noqa: E402


def terms(net, x):
    """(free, streak, off) each (1, 3, H, W), in [-1, 1] units."""
    out = net.forward_features(x, [net.num_layers - 1])[0]  # the last layer's
    z = out[:, :net.light_channels]
    whole = white_top_hat(x, net.thin_light_size)
    light = streak_light_of_thin(whole, net.streak_length, restore=net.streak_restore)
    return (light_removed(z, net.removal_sharpness).expand_as(x),
            net.thin_light_mask(out) * light, net.off_streak_mask(out) * (whole - light))


def main():
    ckpt, rainy_dir, target_dir, manifest = sys.argv[1:5]
    net = build_generator(ckpt).eval()
    if not net.off_streak_light:
        raise SystemExit(f'{ckpt}: not the off_streak_light form')
    kinds = {osp.basename(e['file']): e['rain_kind'] for e in json.load(open(manifest))['images']
             if e['split'] == 'train_rainy'}
    scores = defaultdict(lambda: defaultdict(list))
    for name, kind in sorted(kinds.items()):
        rgb = cv2.imread(osp.join(rainy_dir, name))[:, :, ::-1]
        clean = cv2.imread(osp.join(target_dir, name))[:, :, ::-1].astype(np.float64)
        x = image_to_tensor(rgb)
        with torch.no_grad():
            parts = terms(net, x)
        o = rgb.astype(np.float64)
        for label, part in zip(('free', 'streak', 'off'), parts):
            b = o - part[0].permute(1, 2, 0).numpy() * 127.5
            scores[kind][label].append(band_removal(o, b, clean)['detail_removed'])
        b_all = o - sum(p[0].permute(1, 2, 0).numpy() for p in parts) * 127.5
        scores[kind]['all'].append(band_removal(o, b_all, clean)['detail_removed'])
    print(osp.basename(osp.dirname(ckpt)), osp.basename(ckpt))
    for kind, s in scores.items():
        print(f'  {kind:18s} ' + '  '.join(f'{k} {100 * np.mean(v):+6.1f} %' for k, v in s.items()))


if __name__ == '__main__':
    main()
