"""What a mask on the streak light can take at best when each crop's removal is capped at its
streak light above the clean crops' share of its thin light (the floor of 4.17 as a bound in
the form, not a penalty), from the rain-free twins:

    B = O - m S(O),  m = argmin |O - m S - B_twin|^2  s.t.  sum_p m_p s_p <= max(0, sum_p s_p - r sum_p t_p),

s_p, t_p the channel means of S_{7,21}(O) and T_7(O) at pixel p, r as in fixed_floor.py.
The optimum is m_p = clip((<O - B_twin, S>_p - lam s_p) / <S, S>_p, 0, 1) with lam >= 0 the
smallest that meets the cap (bisection). Also the best mask without the cap
(tools/light_forms.py's). Writes both outputs' folders under OUT; score them with
tools/error_bands.py.

    python capped_bound.py DATA_ROOT OUT [RESTORE]

RESTORE (default 0): the streak light restored around its cores over that many steps (the
generator's ``streak_restore``); the cap's share r stays the unrestored one's.
"""
import glob
import os
import sys

import torch

from nlcl_plugin.models.streak_light import streak_light
from nlcl_plugin.models.thin_light import white_top_hat

from fixed_floor import clean_ratio, load, save


def bisect_mask(err, light, cost, fits, steps=60):
    """m(lam) = clip((<err, L> - lam cost) / <L, L>, 0, 1) with the smallest lam >= 0 for
    which ``fits(m)`` holds (m shrinks as lam grows). err, light (1, C, H, W); cost
    (1, 1, H, W) -> (1, 1, H, W)."""
    num = (err * light).sum(1, keepdim=True)
    den = (light * light).sum(1, keepdim=True).clamp(min=1e-12)

    def mask(lam):
        return ((num - lam * cost) / den).clamp(0, 1) * (den > 1e-12)

    if fits(mask(0.0)):
        return mask(0.0)
    lo, hi = 0.0, 1.0
    while not fits(mask(hi)):
        hi *= 2
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fits(mask(mid)) else (mid, hi)
    return mask(hi)


def capped_mask(err, light, cost, budget, steps=60):
    """:func:`bisect_mask` under the cap sum(m cost) <= budget."""
    if budget <= 0:
        return torch.zeros_like(cost)
    return bisect_mask(err, light, cost, lambda m: float((m * cost).sum()) <= budget, steps)


def main(root, out, restore=0):
    clean = [load(p) for p in sorted(glob.glob(os.path.join(root, 'train_clean', '*')))]
    r = clean_ratio(clean)
    print(f'r = {r:.4f} (per channel)')
    for split, src, tgt in (('train', 'train_rainy', 'train_target'),
                            ('test', 'test/input', 'test/target')):
        for name in ('best', 'capped'):
            os.makedirs(os.path.join(out, f'{name}_{split}'), exist_ok=True)
        for path in sorted(glob.glob(os.path.join(root, src, '*'))):
            x = load(path)
            y = load(os.path.join(root, tgt, os.path.basename(path)))
            with torch.no_grad():
                s, t = streak_light(x, 7, 21), white_top_hat(x, 7)
                budget = float(s.mean(1).sum() - r * t.mean(1).sum())
                if restore:
                    s = streak_light(x, 7, 21, restore=restore)
                cost = s.mean(1, keepdim=True)
                for name, b in (('best', float('inf')), ('capped', budget)):
                    m = capped_mask(x - y, s, cost, b)
                    save(os.path.join(out, f'{name}_{split}', os.path.basename(path)), x - m * s)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], *[int(a) for a in sys.argv[3:4]])
