"""Loss terms against float64 re-computations of their equations (spec §4.2-4.5, 4.7)."""
import math

import pytest
import torch
import torch.nn.functional as F

from nlcl_plugin.models.losses import (TPAMI_ASYMMETRIC_DEFAULTS, ConsistencyLoss,
                                       IdempotenceLoss, IdentityLoss, LayerContrastiveLoss,
                                       LocationContrastiveLoss, SparsityLoss, multilevel_mean)

OFFICIAL_FLOOR = (8 * math.log(7) + 128 * math.log(127)) / 136


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def layer_reference(z_bg, z_rain, tau_bg, tau_rain, weight_bg=None, weight_rain=None):
    """Loop over anchors i of the equation (spec §4.3) with group temperatures t_i:

    l_i = -1/|P(i)| sum_p log(exp(z_i.z_p/t_i) / sum_{a!=i} exp(z_i.z_a/t_i)).
    """
    z = [v.tolist() for v in torch.cat([z_bg, z_rain])]
    labels = [1] * len(z_bg) + [0] * len(z_rain)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    terms = []
    for i, zi in enumerate(z):
        t = tau_bg if labels[i] == 1 else tau_rain
        den = sum(math.exp(dot(zi, z[a]) / t) for a in range(len(z)) if a != i)
        pos = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        terms.append(-sum(math.log(math.exp(dot(zi, z[p]) / t) / den) for p in pos) / len(pos))
    nb = len(z_bg)
    if weight_bg is None:
        return sum(terms) / len(terms)
    return weight_bg * sum(terms[:nb]) / nb + weight_rain * sum(terms[nb:]) / (len(z) - nb)


def close(a, b, rel=1e-6):
    return abs(float(a) - float(b)) <= rel * abs(float(b))


# --------------------------------------------------------------------------- layer loss
@pytest.mark.parametrize('taus,weights', [((0.07, 0.07), (None, None)),
                                          ((0.1, 0.05), (0.5, 0.5)),
                                          ((0.2, 0.5), (0.3, 1.7))])
def test_layer_loss_matches_equation(taus, weights):
    z_bg, z_rain = unit(8, 16, seed=1), unit(20, 16, seed=2)
    loss = LayerContrastiveLoss(*taus, *weights, loss_weight=1.0)
    assert close(loss(z_bg, z_rain), layer_reference(z_bg, z_rain, *taus, *weights))
    scaled = LayerContrastiveLoss(*taus, *weights, loss_weight=2.5)
    assert close(scaled(z_bg, z_rain), 2.5 * layer_reference(z_bg, z_rain, *taus, *weights))


def test_layer_loss_batched_is_mean_of_samples():
    z_bg, z_rain = unit(3, 8, 16, seed=3), unit(3, 12, 16, seed=4)
    loss = LayerContrastiveLoss(**TPAMI_ASYMMETRIC_DEFAULTS)
    expected = sum(layer_reference(z_bg[i], z_rain[i], 0.1, 0.05, 0.5, 0.5) for i in range(3)) / 3
    assert close(loss(z_bg, z_rain), expected)


def test_layer_loss_official_floor_on_collapsed_orthogonal_groups():
    e = torch.eye(256, dtype=torch.float64)
    z_bg, z_rain = e[0].expand(8, -1), e[1].expand(128, -1)
    value = LayerContrastiveLoss()(z_bg, z_rain)
    assert abs(float(value) - 4.6737) < 1e-3
    assert abs(float(value) - OFFICIAL_FLOOR) < 1e-5
    assert LayerContrastiveLoss.floor(8, 128) == pytest.approx(OFFICIAL_FLOOR, abs=1e-12)
    assert LayerContrastiveLoss.floor(8, 128) == pytest.approx(4.6737, abs=1e-4)
    # read from an instance: weighted as that loss is
    assert LayerContrastiveLoss(loss_weight=2.0).floor(8, 128) == pytest.approx(2 * OFFICIAL_FLOOR)
    asym = LayerContrastiveLoss(**TPAMI_ASYMMETRIC_DEFAULTS)
    half = 0.5 * (math.log(7) + math.log(127))
    assert asym.floor(8, 128) == pytest.approx(half)
    assert LayerContrastiveLoss.floor(8, 128, 0.5, 0.5) == pytest.approx(half)
    # the asymmetric loss approaches its own floor on the same configuration
    assert float(asym(z_bg, z_rain)) == pytest.approx(half, abs=1e-3)


def test_asymmetric_with_equal_taus_and_count_weights_is_symmetric():
    z_bg, z_rain = unit(8, 32, seed=5), unit(128, 32, seed=6)
    sym = LayerContrastiveLoss(0.07, 0.07)
    asym = LayerContrastiveLoss(0.07, 0.07, weight_bg=8 / 136, weight_rain=128 / 136)
    assert close(asym(z_bg, z_rain), sym(z_bg, z_rain), rel=1e-12)
    z_bg32, z_rain32 = z_bg.float(), z_rain.float()
    torch.testing.assert_close(asym(z_bg32, z_rain32), sym(z_bg32, z_rain32))


def test_layer_loss_gradients_finite_and_stable():
    z_bg = unit(8, 64, seed=7).float().requires_grad_(True)
    z_rain = unit(128, 64, seed=8).float().requires_grad_(True)
    loss = LayerContrastiveLoss(tau_bg=0.01, tau_rain=0.005)  # logits up to 200
    value = loss(z_bg, z_rain)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(z_bg.grad).all() and torch.isfinite(z_rain.grad).all()
    assert z_bg.grad.abs().sum() > 0


def test_layer_loss_id_adaptive_scales_temperatures():
    z_bg, z_rain = unit(2, 8, 16, seed=9), unit(2, 16, 16, seed=10)
    loss = LayerContrastiveLoss(0.1, 0.05, 0.5, 0.5, id_adaptive=True, id_reference=20.0)
    expected = LayerContrastiveLoss(0.1 * 30 / 20, 0.05 * 10 / 20, 0.5, 0.5)(z_bg, z_rain)
    assert close(loss(z_bg, z_rain, id_bg=30.0, id_rain=torch.tensor(10.0)), expected, 1e-12)
    # per-sample dimensions
    ids_bg, ids_rain = torch.tensor([30.0, 15.0]), torch.tensor([10.0, 40.0])
    per = [LayerContrastiveLoss(0.1 * b / 20, 0.05 * r / 20, 0.5, 0.5)(z_bg[i], z_rain[i])
           for i, (b, r) in enumerate(zip(ids_bg.tolist(), ids_rain.tolist()))]
    assert close(loss(z_bg, z_rain, ids_bg, ids_rain), sum(per) / 2, 1e-12)
    with pytest.raises(ValueError, match='id_bg'):
        loss(z_bg, z_rain)


def test_layer_loss_rejects_bad_options():
    with pytest.raises(ValueError, match='weight_bg and weight_rain'):
        LayerContrastiveLoss(weight_bg=0.5)
    with pytest.raises(ValueError, match='id_reference'):
        LayerContrastiveLoss(id_adaptive=True)
    with pytest.raises(ValueError, match='tau'):
        LayerContrastiveLoss(tau_bg=0.0)
    with pytest.raises(ValueError, match='>= 2'):
        LayerContrastiveLoss()(unit(1, 8), unit(4, 8))


def test_tpami_defaults():
    assert TPAMI_ASYMMETRIC_DEFAULTS == dict(tau_bg=0.1, tau_rain=0.05, weight_bg=0.5,
                                             weight_rain=0.5)


# --------------------------------------------------------------------------- PatchNCE
def patchnce_reference(q, k, tau):
    """mean_i -log(exp(q_i.k_i/t) / (exp(q_i.k_i/t) + sum_{j != i} exp(q_i.k_j/t)))."""
    q, k = q.tolist(), k.tolist()
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    out = []
    for i in range(len(q)):
        pos = math.exp(dot(q[i], k[i]) / tau)
        neg = sum(math.exp(dot(q[i], k[j]) / tau) for j in range(len(k)) if j != i)
        out.append(-math.log(pos / (pos + neg)))
    return sum(out) / len(out)


def test_patchnce_matches_equation_and_batch_mean():
    q, k = unit(2, 24, 16, seed=11), unit(2, 24, 16, seed=12)
    loss = LocationContrastiveLoss(tau=0.07)
    assert close(loss(q[0], k[0]), patchnce_reference(q[0], k[0], 0.07))
    expected = 0.5 * (patchnce_reference(q[0], k[0], 0.07) + patchnce_reference(q[1], k[1], 0.07))
    assert close(loss(q, k), expected)
    assert close(LocationContrastiveLoss(0.2, loss_weight=3.0)(q, k),
                 3.0 * 0.5 * sum(patchnce_reference(q[i], k[i], 0.2) for i in range(2)))


def test_patchnce_keys_get_no_gradient():
    q = unit(1, 16, 8, seed=13).float().requires_grad_(True)
    k = unit(1, 16, 8, seed=14).float().requires_grad_(True)
    LocationContrastiveLoss()(q, k).backward()
    assert k.grad is None
    assert q.grad is not None and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


def test_multilevel_mean():
    loss = LocationContrastiveLoss()
    qs = [unit(1, 10, 8, seed=s) for s in (1, 2, 3)]
    ks = [unit(1, 10, 8, seed=s) for s in (4, 5, 6)]
    expected = sum(float(loss(q, k)) for q, k in zip(qs, ks)) / 3
    assert close(multilevel_mean(loss, qs, ks), expected, 1e-12)
    with pytest.raises(ValueError):
        multilevel_mean(loss, qs, ks[:2])


# --------------------------------------------------------------------------- pixel losses
def test_consistency_loss():
    g = torch.Generator().manual_seed(0)
    bg, rain, rainy = (torch.randn(2, 3, 8, 9, generator=g, dtype=torch.float64) for _ in range(3))
    manual = sum(float(v)**2 for v in (bg + rain - rainy).flatten()) / bg.numel()
    assert close(ConsistencyLoss()(bg, rain, rainy), manual)
    assert close(ConsistencyLoss(loss_weight=2.0)(bg, rain, rainy), 2 * manual)


def test_sparsity_loss_targets():
    g = torch.Generator().manual_seed(1)
    rainy, bg, rain = (torch.randn(2, 3, 8, 9, generator=g, dtype=torch.float64) for _ in range(3))
    implied = sum(abs(float(v)) for v in (rainy - bg).flatten()) / rainy.numel()
    direct = sum(abs(float(v)) for v in rain.flatten()) / rain.numel()
    assert close(SparsityLoss()(rainy, bg, rain), 0.1 * implied)
    assert close(SparsityLoss(1.0, target='rain')(rainy, bg, rain), direct)
    with pytest.raises(ValueError, match="target.*'R_hat'"):
        SparsityLoss(target='R_hat')
    with pytest.raises(ValueError, match='rain layer'):
        SparsityLoss(target='rain')(rainy, bg)


def test_idempotence_loss_is_the_weighted_mean_absolute_change_of_b_passed_again():
    g = torch.Generator().manual_seed(3)
    again, bg = (torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    by_hand = sum(abs(float(a) - float(b)) for a, b in zip(again.flatten(), bg.flatten()))
    assert close(IdempotenceLoss(4.0)(again, bg), 4.0 * by_hand / bg.numel())
    # B is a target, not a variable: only G_B(B)'s side carries gradient
    again.requires_grad_(True)
    bg.requires_grad_(True)
    IdempotenceLoss(4.0)(again, bg).backward()
    assert bg.grad is None
    torch.testing.assert_close(again.grad, 4.0 * torch.sign(again - bg).detach() / bg.numel())
    with pytest.raises(ValueError, match='same shape'):
        IdempotenceLoss()(again, bg[:, :, :4])


def test_identity_loss_is_the_weighted_mean_absolute_change_of_the_clean_image():
    g = torch.Generator().manual_seed(2)
    identity, clean = (torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    by_hand = sum(abs(float(a) - float(b)) for a, b in zip(identity.flatten(), clean.flatten()))
    assert close(IdentityLoss(2.5)(identity, clean), 2.5 * by_hand / clean.numel())
    assert float(IdentityLoss()(clean, clean)) == 0.0
    with pytest.raises(ValueError, match='same shape'):
        IdentityLoss()(identity, clean[:, :, :4])


def test_squared_identity_loss_is_the_weighted_mean_squared_change_and_free_at_the_identity():
    g = torch.Generator().manual_seed(3)
    identity, clean = (torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    by_hand = sum((float(a) - float(b)) ** 2 for a, b in zip(identity.flatten(), clean.flatten()))
    assert close(IdentityLoss(2.5, criterion='l2')(identity, clean), 2.5 * by_hand / clean.numel())
    # at G_B(B_u) = B_u the squared form pulls with zero gradient, the L1 form with its
    # full weight (its subgradient at 0 is taken as 0 by torch, so probe just beside it)
    near = (clean + 1e-6).requires_grad_(True)
    IdentityLoss(4.0, criterion='l2')(near, clean).backward()
    assert float(near.grad.abs().max()) < 1e-6
    near_l1 = (clean + 1e-6).requires_grad_(True)
    IdentityLoss(4.0)(near_l1, clean).backward()
    torch.testing.assert_close(near_l1.grad, torch.full_like(clean, 4.0 / clean.numel()))
    with pytest.raises(ValueError, match='criterion'):
        IdentityLoss(criterion='huber')


def test_stopped_scores_push_only_the_patches_below_the_clean_level():
    """Fed to LSGAN against 1, the stopped scores give mean(min(D(B) - t, 0)^2) with t the
    quantile of the clean scores, by hand; a patch at or above t gets no gradient."""
    from nlcl_plugin.models.adversarial_stop import stopped_scores
    real = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0], dtype=torch.float64).view(1, 1, 1, 5)
    scores = torch.tensor([0.1, 0.5, 0.6, 0.9], dtype=torch.float64,
                          requires_grad=True).view(1, 1, 2, 2)
    out = stopped_scores(scores, real, 0.5)  # t = 0.6, the median
    loss = ((out - 1.0) ** 2).mean()
    by_hand = ((0.1 - 0.6) ** 2 + (0.5 - 0.6) ** 2 + 0.0 + 0.0) / 4
    assert close(loss, by_hand)
    (grad,) = torch.autograd.grad(loss, scores)
    assert grad.flatten().tolist()[2:] == [0.0, 0.0]
    assert close(grad.flatten()[0], 2 * (0.1 - 0.6) / 4)
    # the quantile's ends: t = min or max of the clean scores; another real label
    assert close(((stopped_scores(scores, real, 0.0) - 1) ** 2).mean(), (0.1 - 0.2) ** 2 / 4)
    assert close(stopped_scores(scores, real, 1.0, real_label=0.9).flatten()[3], 0.9 - 0.1)
    with pytest.raises(ValueError, match='quantile'):
        stopped_scores(scores, real, 1.5)


def _lines_and_dots(size=32, line_cols=(), dot_value=0.0, line_value=0.5, horizontal_rows=()):
    """A (1, 3, size, size) float64 image at -0.6 with full-length vertical lines of one
    pixel at ``line_cols``, horizontal ones at ``horizontal_rows`` (``line_value`` above the
    ground) and 9 isolated dots of ``dot_value`` at least 8 pixels from the lines and each
    other. Each structure is thin light of its own height (T_7); only the vertical lines
    are streak light along 0 degrees (S_{7,21})."""
    img = torch.full((1, 3, size, size), -0.6, dtype=torch.float64)
    for c in line_cols:
        img[..., :, c] += line_value
    for r in horizontal_rows:
        img[..., r, :] += line_value
    for y in (4, 14, 24):
        for x in (20, 25, 30):
            img[..., y, x] += dot_value
    return img


def test_streak_share_of_clean_crops_by_hand():
    """The share of the thin light along the dominant direction: a vertical line of 32
    pixels at 0.5 and 9 dots at 0.5 give 32 / 41; dots alone 0; a flat image 0."""
    from nlcl_plugin.models.losses import streak_share
    both = _lines_and_dots(line_cols=(8,), dot_value=0.5)
    dots = _lines_and_dots(dot_value=0.5)
    flat = torch.zeros(1, 3, 32, 32, dtype=torch.float64)
    shares = streak_share(torch.cat([both, dots, flat]), 7, 21)
    torch.testing.assert_close(shares, torch.tensor([32 / 41, 0.0, 0.0], dtype=torch.float64))


def test_streak_floor_loss_by_hand():
    """r = the running mean of the clean crops' shares (flat crops not counted); the loss
    is weight * relu(r mean T(O) - mean S(B) along O's direction), by hand; its gradient
    reaches B only through the streak light it keeps."""
    from nlcl_plugin.models.losses import StreakFloorLoss
    n = 32 * 32
    loss = StreakFloorLoss(loss_weight=3.0)
    clean = torch.cat([_lines_and_dots(line_cols=(8,), dot_value=0.5),
                       _lines_and_dots(dot_value=0.5),
                       torch.zeros(1, 3, 32, 32, dtype=torch.float64)])
    loss.observe_clean(clean[:1])
    assert float(loss.clean_share) == pytest.approx(32 / 41)
    loss.observe_clean(clean[1:])  # the flat crop has no thin light: not counted
    assert float(loss.num_clean) == 2
    r = (32 / 41 + 0.0) / 2
    assert float(loss.clean_share) == pytest.approx(r)
    # O: two streaks (0.5 over 32 pixels each) and the dots; B keeps a share of the streaks
    rainy = _lines_and_dots(line_cols=(3, 12), dot_value=0.5)
    thin_o = (2 * 32 * 0.5 + 9 * 0.5) / n
    for kept_share in (1.0, 0.4, 0.1, 0.0):
        bg = _lines_and_dots(line_cols=(3, 12), dot_value=0.5, line_value=0.5 * kept_share)
        kept = 2 * 32 * 0.5 * kept_share / n
        assert float(loss(rainy, bg)) == pytest.approx(3.0 * max(r * thin_o - kept, 0.0))
    # below the floor the gradient is -weight / n per unit of streak light kept in B,
    # summed over each streak's pixels; nothing reaches the dots
    bg = _lines_and_dots(line_cols=(3, 12), dot_value=0.5, line_value=0.05).requires_grad_(True)
    loss(rainy, bg).backward()
    grad = bg.grad[0].sum(0)  # over the channels (the loss sees their mean)
    for c in (3, 12):
        assert float(grad[:, c].sum()) == pytest.approx(-3.0 * 32 / n)
    assert float(grad[4, 20]) == 0.0
    # the direction is O's: B's light turned across it keeps nothing
    turned = _lines_and_dots(horizontal_rows=(9, 27), dot_value=0.5)
    assert float(loss(rainy, turned)) == pytest.approx(3.0 * r * thin_o)
    # in evaluation the running share stays as it is; the buffers travel in state_dict
    loss.eval()
    loss(rainy, bg.detach(), clean[:1])
    assert float(loss.num_clean) == 2
    again = StreakFloorLoss(loss_weight=3.0)
    again.load_state_dict(loss.state_dict())
    assert float(again.clean_share) == pytest.approx(r)
    with pytest.raises(ValueError, match='no clean crop'):
        StreakFloorLoss()(rainy, bg.detach())
    with pytest.raises(ValueError, match='same shape'):
        loss(rainy, bg.detach()[..., :16])
    with pytest.raises(ValueError, match='length'):
        StreakFloorLoss(length=20)
