"""Section ``sampler``: the non-local search on CUDA against a brute-force float64
reference and against the CPU."""
import statistics
import time

from .core import Section, device_name, sync


def _window(c: int, size: int, p: int, search: int):
    top, bottom = p // 2, p - p // 2
    lo = max(c - search // 2, top)
    hi = max(min(c + search - search // 2, size - bottom), c + 1)
    return lo, hi


def brute_force_topk(image, center, p: int = 16, search: int = 40, largest: bool = False):
    """All candidates of the window: anchor first, then by (float64 distance, raster index)."""
    import math
    img = image.double().cpu()
    _, height, width = img.shape
    top, bottom = p // 2, p - p // 2
    ch, cw = center
    anchor = img[:, ch - top:ch + bottom, cw - top:cw + bottom]
    (h0, h1), (w0, w1) = _window(ch, height, p, search), _window(cw, width, p, search)
    scored = []
    for h in range(h0, h1):
        for w in range(w0, w1):
            if (h, w) == (ch, cw):
                continue
            d = math.sqrt(float(((img[:, h - top:h + bottom, w - top:w + bottom] - anchor)**2)
                                .sum()))
            scored.append((-d if largest else d, h * width + w, (h, w)))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(ch, cw)] + [t[2] for t in scored]


def section_sampler(s: Section) -> None:
    import torch

    from nlcl_plugin.models.sampler import (nonlocal_topk, nonlocal_topk_batched,
                                            random_anchors)
    dev = device_name(s.dry)
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 17, 23), (4, 40, 40), (32, 256, 256), (64, 255, 255)]
    if s.dry:
        shapes = shapes[:2]
    rows, all_ok = [], True
    for shape in shapes:
        image = torch.randn(shape, generator=gen)
        _, height, width = shape
        top, bottom = 8, 8
        hs = sorted({top, height - bottom, (top + height - bottom) // 2})
        ws = sorted({top, width - bottom, (top + width - bottom) // 2})
        anchors = [(h, w) for h in hs for w in ws]
        if height >= 256:
            anchors = anchors[::4]
        checked = wrong = 0
        for largest in (False, True):
            for center in anchors:
                ref = brute_force_topk(image, center, largest=largest)
                for k in sorted({1, 8, 128, len(ref)}):
                    if k > len(ref):
                        continue
                    got = nonlocal_topk_batched(image[None].to(dev), torch.tensor([center], device=dev),
                                                k, largest=largest)[0]
                    checked += 1
                    wrong += [tuple(x) for x in got.cpu().tolist()] != ref[:k]
        all_ok &= wrong == 0
        rows.append({'map (C,H,W)': 'x'.join(map(str, shape)), 'anchors': len(anchors),
                     'searches compared': checked, 'different from reference': wrong})
    s.table(f'nonlocal_topk_batched on {dev} against a brute-force float64 reference '
            '(16x16 patches, 40x40 window; nearest and farthest; k = 1, 8, 128, all)', rows)
    s.check(f'every search on {dev} equals the reference (order included)', all_ok)

    # CUDA against CPU on the training sizes, batched, and the time of one search.
    cases = [((4, 32, 256, 256), 256), ((8, 64, 256, 256), 128), ((1, 3, 256, 256), 8)]
    if s.dry:
        cases = [((2, 8, 64, 64), 32)]
    rows, same_all = [], True
    for shape, k in cases:
        n, c, h, w = shape
        images = torch.randn(shape, generator=gen)
        centers = random_anchors(n, h, w, 16, gen)
        cpu = nonlocal_topk_batched(images, centers, k)
        x, cen = images.to(dev), centers.to(dev)
        out = nonlocal_topk_batched(x, cen, k)
        same = torch.equal(out.cpu(), cpu)
        same_all &= same
        for _ in range(3):
            nonlocal_topk_batched(x, cen, k)
        sync(dev)
        times = []
        for _ in range(5 if s.dry else 20):
            t0 = time.perf_counter()
            nonlocal_topk_batched(x, cen, k)
            sync(dev)
            times.append(time.perf_counter() - t0)
        rows.append({'input (N,C,H,W)': 'x'.join(map(str, shape)), 'k': k,
                     'same as CPU': 'yes' if same else 'NO',
                     'ms per call (median)': round(statistics.median(times) * 1e3, 3)})
    s.table(f'Batched search on {dev} against the CPU, training sizes', rows)
    s.check(f'batched search on {dev} returns the CPU\'s locations', same_all)
    # single-map entry point as well
    img = torch.randn(3, 64, 64, generator=gen)
    s.check('nonlocal_topk (one map) on the device equals the CPU',
            torch.equal(nonlocal_topk(img.to(dev), (30, 30), 16).cpu(),
                        nonlocal_topk(img, (30, 30), 16)))
