"""Identity on clean blocks mixed into a rainy image: the mix, the masked identity loss,
the objective's checks and the MMagic training step's wiring."""
import copy

import pytest
import torch

from nlcl_plugin.models.identity_mix import mix_blocks
from nlcl_plugin.models.losses import IdentityLoss
from nlcl_plugin.models.objective import NLCLObjective
from nlcl_plugin.models.sampler import iteration_rng


def _pair(n=3, size=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size + 8, generator=g), torch.rand(n, 3, size, size + 8,
                                                                      generator=g)


def _change_positions(line):
    """Indices i where line[i] != line[i - 1]."""
    return {i for i in range(1, len(line)) if line[i] != line[i - 1]}


@pytest.mark.parametrize('block', [1, 5, 8])
def test_the_mix_takes_whole_squares_of_one_image_or_the_other(block):
    rainy, clean = _pair()
    x, m = mix_blocks(rainy, clean, block, torch.Generator().manual_seed(1))
    assert m.shape == (3, 1, 40, 48) and x.shape == rainy.shape
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(x, torch.where(m.bool(), clean, rainy), rtol=0, atol=0)
    for mask in m[:, 0]:
        # every change along a row or a column falls on one grid of period ``block``
        rows = set().union(*(_change_positions(r.tolist()) for r in mask))
        cols = set().union(*(_change_positions(c.tolist()) for c in mask.T))
        for changes in (rows, cols):
            assert len({i % block for i in changes}) <= 1, changes
        # and the mask is constant between those grid lines: brute force over the squares
        if block > 1 and rows and cols:
            r0, c0 = min(cols) % block, min(rows) % block
            edges_r = [0, *range(r0, 40, block), 40]
            edges_c = [0, *range(c0, 48, block), 48]
            for a, b in zip(edges_r, edges_r[1:]):
                for c, d in zip(edges_c, edges_c[1:]):
                    if b > a and d > c:
                        assert mask[a:b, c:d].unique().numel() == 1


def test_the_mix_draws_half_of_the_squares_and_follows_its_generator():
    rainy, clean = _pair(n=64, size=64)
    _, m = mix_blocks(rainy, clean, 8, torch.Generator().manual_seed(3))
    assert 0.45 < float(m.mean()) < 0.55
    _, again = mix_blocks(rainy, clean, 8, torch.Generator().manual_seed(3))
    _, other = mix_blocks(rainy, clean, 8, torch.Generator().manual_seed(4))
    assert torch.equal(m, again) and not torch.equal(m, other)


def test_the_mix_refuses_bad_arguments():
    rainy, clean = _pair()
    with pytest.raises(ValueError, match='same shape'):
        mix_blocks(rainy, clean[..., :-1], 8)
    for block in (0, -2, 2.5):
        with pytest.raises(ValueError, match='block'):
            mix_blocks(rainy, clean, block)


@pytest.mark.parametrize('criterion', ['l1', 'l2'])
def test_the_identity_loss_runs_over_the_mask_only(criterion):
    identity, clean = _pair(n=2, size=6, seed=5)
    mask = (torch.arange(6 * 14).reshape(1, 1, 6, 14) % 3 == 0).float().repeat(2, 1, 1, 1)
    loss = IdentityLoss(2.5, criterion)
    power = 1 if criterion == 'l1' else 2
    total, count = 0.0, 0
    for n in range(2):
        for c in range(3):
            for y in range(6):
                for x in range(14):
                    if mask[n, 0, y, x]:
                        total += abs(float(identity[n, c, y, x] - clean[n, c, y, x])) ** power
                        count += 1
    assert float(loss(identity, clean, mask)) == pytest.approx(2.5 * total / count, rel=1e-5)
    ones = torch.ones(2, 1, 6, 14)
    torch.testing.assert_close(loss(identity, clean, ones), loss(identity, clean))
    with pytest.raises(ValueError, match='mask'):
        loss(identity, clean, ones[:, :, :-1])


class _LSGAN(torch.nn.Module):
    def forward(self, pred, target_is_real, is_disc=False):
        return ((pred - float(target_is_real)) ** 2).mean()


def test_the_objective_checks_the_mix_against_the_terms_it_would_break():
    gan = _LSGAN()
    tiny = dict(gen_channels=8, embed_channels=16, disc_channels=(8, 16, 32, 64))
    with pytest.raises(ValueError, match='identity loss'):
        NLCLObjective(gan, identity_mix=8, loc_identity=False, **tiny)
    with pytest.raises(ValueError, match='loc_identity'):
        NLCLObjective(gan, identity_loss=IdentityLoss(), identity_mix=8, **tiny)
    with pytest.raises(ValueError, match='fake_identity'):
        NLCLObjective(gan, identity_loss=IdentityLoss(), identity_mix=8, loc_identity=False,
                      fake_identity=True, **tiny)
    with pytest.raises(ValueError, match='identity_mix'):
        NLCLObjective(gan, identity_loss=IdentityLoss(), identity_mix=-1, **tiny)
    rainy, clean = _pair()
    off = NLCLObjective(gan, identity_loss=IdentityLoss(), **tiny)
    view, mask = off.identity_view(rainy, clean, torch.Generator().manual_seed(0))
    assert view is clean and mask is None


def test_the_mmagic_step_gives_g_b_the_mixed_image_and_asks_for_the_clean_blocks():
    """The training step's identity term is weight * mean over M of |G_B(X) - B_u|, X and M
    drawn with the step's random generator (by hand below, with the generator's weights
    before the step), and differs from the whole clean image's term."""
    pytest.importorskip('mmagic')
    from test_mmagic_nlcl import batch, build

    torch.manual_seed(2)
    model, optims = build(identity_loss=dict(type='IdentityLoss', loss_weight=3.0),
                          loc_identity=False, identity_mix=8)
    assert model.nlcl_objective.identity_mix == 8
    data = batch(n=2, size=32, seed=4)
    prepared = model.data_preprocessor(copy.deepcopy(data), True)
    rainy, clean = prepared['inputs'], prepared['data_samples'].gt_img
    x, m = mix_blocks(rainy, clean, 8, iteration_rng(0, 0))
    assert 0 < float(m.mean()) < 1
    with torch.no_grad():
        before = copy.deepcopy(model.generator)
        expected = 3.0 * ((before(x) - clean).abs() * m).sum() / (m.sum() * 3)
        whole = 3.0 * ((before(clean) - clean).abs() * m).sum() / (m.sum() * 3)
    assert abs(float(expected) - float(whole)) > 1e-4
    logs = model.train_step(data, optims)
    assert float(logs['loss_identity'].detach()) == pytest.approx(float(expected), rel=1e-4)
    bg, rain, idt = model.decompose(rainy, x)
    with pytest.raises(ValueError, match='identity_mask'):
        model.nlcl_objective.generator_losses(model.generator, model.discriminator, rainy, bg,
                                              rain, clean, idt)
