"""The streak floor as a fixed filter per block, without training: from each block of
BxB pixels of each rainy crop, take away its streak light S_{7,21} (per channel, along the
channel mean's dominant direction over the whole crop) above the clean crops' share r of
the block's thin light T_7, uniformly over the block:

    B = O - g S(O),   g_b = clip(1 - r mean_b T(O) / mean_b S(O), 0, 1),

r = the mean over the clean crops of mean S / mean T (as fixed_floor.py). B = the crop's
side is fixed_floor.py's filter (the same scores; the block means are taken channel mean
first, so a few pixels round the other way). Writes one outputs' folder per block size under OUT;
score them with tools/error_bands.py.

    python fixed_floor_blocks.py DATA_ROOT OUT B...
"""
import glob
import os
import sys

import torch
import torch.nn.functional as F

from nlcl_plugin.models.streak_light import streak_light
from nlcl_plugin.models.thin_light import white_top_hat

from fixed_floor import clean_ratio, load, save


def main(root, out, blocks):
    clean = [load(p) for p in sorted(glob.glob(os.path.join(root, 'train_clean', '*')))]
    r = clean_ratio(clean)
    print(f'r = {r:.4f} (per channel)')
    for block in blocks:
        folder = os.path.join(out, f'block{block}_train')
        os.makedirs(folder, exist_ok=True)
        for path in sorted(glob.glob(os.path.join(root, 'train_rainy', '*'))):
            x = load(path)
            with torch.no_grad():
                s, t = streak_light(x, 7, 21), white_top_hat(x, 7)
                sb = F.avg_pool2d(s.mean(1, keepdim=True), block, ceil_mode=True)
                tb = F.avg_pool2d(t.mean(1, keepdim=True), block, ceil_mode=True)
                g = (1 - r * tb / sb.clamp(min=1e-8)).clamp(0, 1)
                g = F.interpolate(g, scale_factor=block, mode='nearest')[..., :x.shape[2], :x.shape[3]]
            save(os.path.join(folder, os.path.basename(path)), x - g * s)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3:]])
