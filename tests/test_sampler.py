"""Non-local sampler against a brute-force float64 reference written from the spec (§3.1)."""
import math

import pytest
import torch

from nlcl_plugin.models.sampler import (NonLocalPatchSampler, check_sampler_config,
                                        gather_vectors, map_locations, nonlocal_topk,
                                        nonlocal_topk_batched, random_anchors,
                                        random_locations)

P, S = 16, 40


def official_window(c, size, half=8, search_half=20):
    """The released window: start 8 if c-20-8 < 0 else c-20; end H-8 if c+20+8 > H else c+20."""
    start = half if c - search_half - half < 0 else c - search_half
    end = size - half if c + search_half + half > size else c + search_half
    return start, end


def reference_window(c, size, p=P, s=S):
    """Window of the documented rule (official formula, end raised to c + 1 if needed)."""
    top, bottom = p // 2, p - p // 2
    lo = max(c - s // 2, top)
    hi = max(min(c + s - s // 2, size - bottom), c + 1)
    return lo, hi


def brute_force(image, center, p=P, s=S, largest=False):
    """All window candidates: anchor first, then by (distance, raster index), float64."""
    img = image.double()
    _, height, width = img.shape
    top, bottom = p // 2, p - p // 2
    ch, cw = center
    anchor = img[:, ch - top:ch + bottom, cw - top:cw + bottom]
    (h0, h1), (w0, w1) = reference_window(ch, height, p, s), reference_window(cw, width, p, s)
    scored = []
    for h in range(h0, h1):
        for w in range(w0, w1):
            if (h, w) == (ch, cw):
                continue
            patch = img[:, h - top:h + bottom, w - top:w + bottom]
            d = math.sqrt(float(((patch - anchor)**2).sum()))
            scored.append((-d if largest else d, h * width + w, (h, w)))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(ch, cw)] + [t[2] for t in scored]


def as_list(locs):
    return [tuple(x) for x in locs.tolist()]


def anchors_for(height, width, p=P):
    """Corners, edges and interior points of the valid centre range."""
    top, bottom = p // 2, p - p // 2
    hs = sorted({top, height - bottom, (top + height - bottom) // 2})
    ws = sorted({top, width - bottom, (top + width - bottom) // 2})
    return [(h, w) for h in hs for w in ws]


# --------------------------------------------------------------------------- window
@pytest.mark.parametrize('size', [32, 33, 47, 64, 255, 256, 300])
def test_window_equals_released_formula(size):
    lo_a, hi_a = (P, size - P) if size >= 2 * P else (P // 2, size - P // 2)
    for c in range(lo_a, hi_a + 1):
        assert official_window(c, size) == reference_window(c, size)
    # and the search returns exactly that window's candidates (square map, any anchor)
    img = torch.randn(1, size, size, generator=torch.Generator().manual_seed(size))
    for c in (lo_a, (lo_a + hi_a) // 2, hi_a):
        (h0, h1) = official_window(c, size)
        (w0, w1) = official_window(lo_a, size)
        n = (h1 - h0) * (w1 - w0)
        got = set(as_list(nonlocal_topk(img, (c, lo_a), n)))
        assert got == {(h, w) for h in range(h0, h1) for w in range(w0, w1)}


def test_corner_window_of_official_crop_has_784_candidates():
    assert check_sampler_config(256, 16, 40, 256) == 28 * 28


# --------------------------------------------------------------------------- search
@pytest.mark.parametrize('shape', [(3, 17, 17), (3, 17, 23), (4, 40, 40), (2, 256, 256),
                                   (1, 512, 768)])
def test_nonlocal_topk_equals_brute_force(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    image = torch.randn(shape, generator=gen)
    anchors = anchors_for(*shape[1:])
    if shape[1] >= 256:
        anchors = anchors[::4]  # two corners and the middle
    for center in anchors:
        ref = brute_force(image, center)
        for k in (1, 8, 128, len(ref)):
            if k > len(ref):
                continue
            assert as_list(nonlocal_topk(image, center, k)) == ref[:k], (center, k)


def test_nonlocal_topk_largest_equals_brute_force():
    image = torch.randn(3, 60, 70, generator=torch.Generator().manual_seed(1))
    for center in anchors_for(60, 70)[::2]:
        ref = brute_force(image, center, largest=True)
        out = nonlocal_topk_batched(image[None], torch.tensor([center]), len(ref), largest=True)
        assert as_list(out[0]) == ref
        assert as_list(nonlocal_topk_batched(image[None], torch.tensor([center]), 9,
                                             largest=True)[0]) == ref[:9]


@pytest.mark.parametrize('largest', [False, True])
def test_ties_are_ordered_by_raster_index(largest):
    gen = torch.Generator().manual_seed(2)
    constant = torch.full((3, 48, 48), 0.25)
    blocks = torch.randn(3, 80, 80, generator=gen)
    blocks[:, 10:50, 8:60] = -0.5  # constant region: many exact-zero distances
    periodic = torch.randn(2, 5, 7, generator=gen).repeat(1, 16, 12)  # exact duplicates
    quantised = torch.randint(0, 4, (3, 64, 64), generator=gen).float() / 4
    for image in (constant, blocks, periodic, quantised):
        for center in anchors_for(*image.shape[1:])[::4]:  # two corners and the middle
            ref = brute_force(image, center, largest=largest)
            out = nonlocal_topk_batched(image[None], torch.tensor([center]), len(ref),
                                        largest=largest)[0]
            assert as_list(out) == ref, center
    # constant map: anchor, then raster order
    out = as_list(nonlocal_topk(constant, (24, 24), 5))
    assert out == [(24, 24), (8, 8), (8, 9), (8, 10), (8, 11)]


def test_batched_equals_single_and_brute_force():
    gen = torch.Generator().manual_seed(3)
    images = torch.randn(4, 3, 64, 80, generator=gen)
    centers = torch.tensor([[8, 8], [56, 72], [30, 40], [8, 72]])
    for k in (1, 8, 128):
        out = nonlocal_topk_batched(images, centers, k)
        assert out.shape == (4, k, 2) and out.dtype == torch.long
        for i in range(4):
            single = nonlocal_topk(images[i], centers[i], k)
            assert torch.equal(out[i], single)
            assert as_list(single) == brute_force(images[i], tuple(centers[i].tolist()))[:k]


def test_search_accepts_half_precision_and_ignores_grad():
    image = torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(4))
    ref = nonlocal_topk_batched(image, torch.tensor([[20, 20]]), 16)
    x = image.clone().requires_grad_(True)
    assert torch.equal(nonlocal_topk_batched(x, torch.tensor([[20, 20]]), 16), ref)
    assert nonlocal_topk_batched(image.bfloat16(), torch.tensor([[20, 20]]), 16).shape == (1, 16, 2)


def test_small_windows_are_widened():
    image = torch.randn(2, 64, 64, generator=torch.Generator().manual_seed(5))
    center, s = (8, 30), 8  # window 4 x 8 = 32 candidates
    for k in (32, 33, 200):
        s_eff = s
        while len(brute_force(image, center, s=s_eff)) < k:
            s_eff += 2
        ref = brute_force(image, center, s=s_eff)[:k]
        assert as_list(nonlocal_topk(image, center, k, search_size=s)) == ref
    # all candidates of the map: (64 - 16)^2; one more is an error
    assert nonlocal_topk(image, center, 48 * 48).shape == (48 * 48, 2)
    with pytest.raises(ValueError, match='k=2305'):
        nonlocal_topk(image, center, 48 * 48 + 1)


def test_patch_sized_map_and_bad_inputs():
    image = torch.randn(3, 16, 16)
    assert as_list(nonlocal_topk(image, (8, 8), 1)) == [(8, 8)]
    with pytest.raises(ValueError, match='k=2'):
        nonlocal_topk(image, (8, 8), 2)
    with pytest.raises(ValueError, match='not valid centres'):
        nonlocal_topk(torch.randn(3, 40, 40), (7, 20), 4)
    with pytest.raises(ValueError, match='smaller than patch_size'):
        nonlocal_topk(torch.randn(3, 15, 40), (7, 20), 4)


def test_check_sampler_config():
    assert check_sampler_config(8, 16, 40, (256, 320)) == 784
    with pytest.raises(ValueError, match=r'num_patches=900 .* 256x256.* 784 candidates'):
        check_sampler_config(900, 16, 40, 256)
    assert check_sampler_config(256, 16, 40, 32) == 256
    with pytest.raises(ValueError, match='num_patches=256 .* 31x31.* 225 .* 32x32'):
        check_sampler_config(256, 16, 40, 31)


# --------------------------------------------------------------------------- anchors
def test_random_anchors_range_and_seed():
    gen = torch.Generator().manual_seed(0)
    a = random_anchors(4000, 256, 256, 16, gen)
    assert a.shape == (4000, 2) and a.dtype == torch.long
    assert a.min() == 16 and a.max() == 240  # U{16..H-16}, inclusive
    small = random_anchors(2000, 20, 40, 16, gen)  # H < 2p: valid centres [8, 12]
    assert small[:, 0].min() == 8 and small[:, 0].max() == 12
    assert small[:, 1].min() == 16 and small[:, 1].max() == 24
    assert random_anchors(3, 16, 16).tolist() == [[8, 8]] * 3
    same = [random_anchors(5, 100, 120, generator=torch.Generator().manual_seed(7))
            for _ in range(2)]
    assert torch.equal(*same)
    assert not torch.equal(same[0], random_anchors(5, 100, 120,
                                                   generator=torch.Generator().manual_seed(8)))


def test_random_locations_distinct_valid_anchor_first():
    gen = torch.Generator().manual_seed(1)
    anchors = random_anchors(3, 40, 50, 16, gen)
    locs = random_locations(anchors, 200, 40, 50, 16, gen)
    assert locs.shape == (3, 200, 2)
    assert torch.equal(locs[:, 0], anchors)
    for i in range(3):
        assert len(set(as_list(locs[i]))) == 200
    assert locs[..., 0].min() >= 8 and locs[..., 0].max() <= 32
    assert locs[..., 1].min() >= 8 and locs[..., 1].max() <= 42


# --------------------------------------------------------------------------- mapping
def test_map_locations_equals_released_mapping_at_256():
    locs = torch.randint(0, 256, (2, 300, 2), generator=torch.Generator().manual_seed(0))
    for size in (256, 255, 127, 63, 31):
        expected = torch.stack([locs[..., 0] * size // 256, locs[..., 1] * size // 256], -1)
        assert torch.equal(map_locations(locs, (256, 256), (size, size)), expected)


def test_map_locations_proportional_and_clamped():
    locs = torch.tensor([[[0, 0], [100, 300], [199, 299]]])
    out = map_locations(locs, (200, 300), (50, 75))
    assert out.tolist() == [[[0, 0], [25, 74], [49, 74]]]
    assert map_locations(torch.tensor([[500, 500]]), (200, 300), (50, 75)).tolist() == [[49, 74]]


def test_gather_vectors_picks_single_vectors():
    feat = torch.randn(2, 5, 31, 47)
    locs = torch.tensor([[[8, 8], [100, 200]], [[200, 300], [16, 16]]])
    out = gather_vectors(feat, locs, (256, 384))
    assert out.shape == (2, 2, 5)
    for n in range(2):
        for j in range(2):
            h, w = locs[n, j].tolist()
            torch.testing.assert_close(out[n, j], feat[n, :, h * 31 // 256, w * 47 // 384])


# --------------------------------------------------------------------------- module
D_CHANNELS = (3, 64, 128, 256, 512)
D_SIZES = (256, 255, 127, 63, 31)


def d_feats(n, gen):
    return [torch.randn(n, c, s, s, generator=gen) for c, s in zip(D_CHANNELS, D_SIZES)]


@pytest.mark.parametrize('mode', ['nonlocal_similar', 'nonlocal_dissimilar', 'random'])
@pytest.mark.parametrize('n', [1, 3])
def test_sampler_shapes_and_reuse(mode, n):
    gen = torch.Generator().manual_seed(n)
    sampler = NonLocalPatchSampler(D_CHANNELS[1:], 8, mode=mode)
    image = torch.randn(n, 3, 256, 256, generator=gen)
    feats = d_feats(n, gen)[1:]
    z, locs = sampler(feats, search_map=image, generator=gen)
    assert locs.shape == (n, 8, 2) and locs.dtype == torch.long
    assert [tuple(t.shape) for t in z] == [(n, 8, 256)] * 4
    for t in z:
        torch.testing.assert_close(t.norm(dim=-1), torch.ones(n, 8), atol=1e-3, rtol=0)  # eps 1e-7
    if mode != 'random':
        ref = nonlocal_topk_batched(image, locs[:, 0], 8, largest=mode == 'nonlocal_dissimilar')
        assert torch.equal(locs, ref)
    z2, locs2 = sampler(feats, locations=locs, search_map=image)
    assert locs2 is locs
    for a, b in zip(z, z2):
        torch.testing.assert_close(a, b)
    # level l uses the vector at the mapped location
    manual = sampler.heads([gather_vectors(f, locs, (256, 256)) for f in feats])
    for a, b in zip(z, manual):
        torch.testing.assert_close(a, b)


def test_sampler_searches_feats0_by_default_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 32, 64, 48, generator=gen) for _ in range(3)]
    sampler = NonLocalPatchSampler([32] * 3, 64)
    runs = [sampler(feats, generator=torch.Generator().manual_seed(s))[1] for s in (5, 5, 6)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])
    assert torch.equal(runs[0], nonlocal_topk_batched(feats[0], runs[0][:, 0], 64))


def test_sampler_gradients_reach_features_and_heads():
    feats = [torch.randn(2, 32, 40, 40, requires_grad=True) for _ in range(2)]
    sampler = NonLocalPatchSampler([32, 32], 16)
    z, _ = sampler(feats, generator=torch.Generator().manual_seed(0))
    sum(t.sum() for t in z).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)
    assert all(p.grad is not None for p in sampler.parameters())


def test_sampler_rejects_bad_options():
    with pytest.raises(ValueError, match="mode.*'reverse'"):
        NonLocalPatchSampler([32], 8, mode='reverse')
    with pytest.raises(ValueError, match='num_patches'):
        NonLocalPatchSampler([32], 0)
    sampler = NonLocalPatchSampler([32, 32], 8)
    with pytest.raises(ValueError, match='N=2'):
        sampler([torch.randn(2, 32, 20, 20), torch.randn(1, 32, 20, 20)])


def test_gather_vectors_channels_last_gradient_keeps_the_layout():
    """On a channels-last map the vectors and their gradient equal plain indexing's, and
    the gradient comes back channels-last (no NCHW copy for the layers below)."""
    torch.manual_seed(0)
    base = torch.randn(2, 8, 12, 10)
    locs = torch.randint(0, 24, (2, 5, 2))
    locs[..., 1] %= 20
    weights = torch.randn(2, 5, 8)
    leaf = base.clone().requires_grad_()
    feat = leaf.contiguous(memory_format=torch.channels_last)  # a layer's output
    seen = []
    feat.register_hook(seen.append)  # the gradient as the layer's backward receives it
    ref = base.clone().requires_grad_()
    out = gather_vectors(feat, locs, (24, 20))
    mapped = map_locations(locs, (24, 20), (12, 10))
    expected = ref[torch.arange(2)[:, None], :, mapped[..., 0], mapped[..., 1]]
    assert torch.equal(out, expected)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    assert torch.equal(leaf.grad, ref.grad)
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert ref.grad.abs().sum() > 0
