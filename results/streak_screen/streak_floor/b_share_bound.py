"""What a mask on the streak light can take at best when each crop must keep B's own share
of streak light at the clean crops' share r, a floor on what B keeps measured against B's own
thin light rather than O's (section 5's next item after 4.18), from the rain-free twins:

    B = O - m S(O),  m = argmin |O - m S - B_twin|^2
        s.t.  mean S_{7,21}(g_B; theta*(O)) >= r mean T_7(g_B),

g_B the channel mean of B, theta*(O) O's dominant direction, r the clean crops' mean
``streak_share`` (channel means first, as StreakFloorLoss computes it). The constraint is
checked on B itself, recomputed for each trial mask; the mask is capped_bound.py's
m_p = clip((<O - B_twin, S>_p - lam s_p) / <S, S>_p, 0, 1) with the smallest lam >= 0 that
meets it (bisection); a crop whose O already falls short of the share keeps m = 0. Writes
the outputs' folders under OUT; score them with tools/error_bands.py.

    python b_share_bound.py DATA_ROOT OUT [RESTORE]

RESTORE (default 0): the mask is on the streak light restored around its cores over that
many steps (the generator's ``streak_restore``); the constraint stays the unrestored one.
"""
import glob
import os
import sys

import torch

from nlcl_plugin.models.losses import streak_share
from nlcl_plugin.models.streak_light import dominant_angle, line_opening_along, streak_light
from nlcl_plugin.models.thin_light import white_top_hat

from capped_bound import bisect_mask
from fixed_floor import load, save

SIZE, LENGTH = 7, 21


def keeps_share(b, index, r):
    """Whether B keeps at least the share r of its own thin light along O's direction."""
    thin = white_top_hat(b.mean(1, keepdim=True), SIZE)
    kept = line_opening_along(thin, index, LENGTH).mean()
    return float(kept) >= r * float(thin.mean())


def main(root, out, restore=0):
    with torch.no_grad():
        clean = [load(p) for p in sorted(glob.glob(os.path.join(root, 'train_clean', '*')))]
        r = float(torch.cat([streak_share(x, SIZE, LENGTH) for x in clean]).mean())
    print(f'r = {r:.4f} (channel means, as StreakFloorLoss)')
    for split, src, tgt in (('train', 'train_rainy', 'train_target'),
                            ('test', 'test/input', 'test/target')):
        os.makedirs(os.path.join(out, f'bshare_{split}'), exist_ok=True)
        held = 0
        for path in sorted(glob.glob(os.path.join(root, src, '*'))):
            x = load(path)
            y = load(os.path.join(root, tgt, os.path.basename(path)))
            with torch.no_grad():
                index = dominant_angle(white_top_hat(x.mean(1, keepdim=True), SIZE), LENGTH)
                s = streak_light(x, SIZE, LENGTH, restore=restore)
                cost = s.mean(1, keepdim=True)

                def fits(m):
                    return keeps_share(x - m * s, index, r)

                if fits(torch.zeros_like(cost)):
                    m = bisect_mask(x - y, s, cost, fits, steps=30)
                else:
                    m, held = torch.zeros_like(cost), held + 1
            save(os.path.join(out, f'bshare_{split}', os.path.basename(path)), x - m * s)
        print(f'{split}: {held} crops below the share already (m = 0)')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:4]])
