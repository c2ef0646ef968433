"""``objective.fake_identity``: D scores G_B(B_u) as fake beside B."""
import pytest
import torch

from nlcl_plugin.models.discriminator import PatchDiscriminator
from nlcl_plugin.models.objective import NLCLObjective


class _LSGAN(torch.nn.Module):
    def forward(self, pred, target_is_real, is_disc=False):
        return ((pred - float(target_is_real)) ** 2).mean()


def _images(seed, n=2, size=32):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=gen) * 2 - 1


@pytest.mark.parametrize('same_shape', [True, False])
def test_the_fake_term_is_the_mean_over_b_and_the_generators_clean_output(same_shape):
    torch.manual_seed(0)
    d = PatchDiscriminator(base_channels=8, init_gain=1.0, norm='none')
    fake, identity = _images(1), _images(2)
    clean = _images(3) if same_shape else _images(3, size=40)
    identity = identity if same_shape else _images(2, size=40)
    obj = NLCLObjective(_LSGAN(), fake_identity=True)
    assert obj.needs_identity and not NLCLObjective(_LSGAN(), loc_identity=False).needs_identity
    losses = obj.discriminator_loss(d, fake, clean, identity)
    with torch.no_grad():  # written out: LSGAN targets 0, 0 and 1, the fakes half each
        want_fake = 0.5 * 0.5 * ((d(fake) ** 2).mean() + (d(identity) ** 2).mean())
        want_real = 0.5 * ((d(clean) - 1) ** 2).mean()
    torch.testing.assert_close(losses['loss_d_fake'], want_fake, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_d_real'], want_real, rtol=1e-5, atol=1e-6)
    # without the option the generator's clean output is ignored, as in the paper
    plain = NLCLObjective(_LSGAN()).discriminator_loss(d, fake, clean, identity)
    with torch.no_grad():
        torch.testing.assert_close(plain['loss_d_fake'], 0.5 * (d(fake) ** 2).mean(),
                                   rtol=1e-5, atol=1e-6)


def test_the_generators_clean_output_is_detached_and_checked():
    d = PatchDiscriminator(base_channels=8)
    obj = NLCLObjective(_LSGAN(), fake_identity=True)
    fake, clean = _images(1), _images(3)
    identity = _images(2).requires_grad_()
    sum(obj.discriminator_loss(d, fake, clean, identity).values()).backward()
    assert identity.grad is None
    with pytest.raises(ValueError, match='fake_identity needs'):
        obj.discriminator_loss(d, fake, clean)
    with pytest.raises(ValueError, match='clean images'):
        obj.discriminator_loss(d, fake, clean, _images(2, n=1))


def test_d_cannot_learn_its_clean_images_when_they_are_also_fakes():
    """Trained on the same two clean images as real and (through an identity G_B) as fake,
    beside rainy images, D scores the clean ones near 2/3 (the LSGAN optimum for an image
    seen as real with weight 1 and as fake with weight 1/2, the fakes' half) and the rainy
    ones near 0; without the option it scores the clean ones near 1."""
    clean = _images(3) * 0.5
    rainy = clean.clone()
    rainy[..., ::4, :] = 1.0  # bright lines: something D can find
    scores = {}
    for option in (False, True):
        torch.manual_seed(0)
        d = PatchDiscriminator(base_channels=8, num_layers=1, init_gain=1.0, norm='none')
        opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
        obj = NLCLObjective(_LSGAN(), fake_identity=option)
        for _ in range(300):
            opt.zero_grad()
            sum(obj.discriminator_loss(d, rainy, clean, clean.clone()).values()).backward()
            opt.step()
        with torch.no_grad():
            scores[option] = (d(clean).mean().item(), d(rainy).mean().item())
    assert scores[False][0] > 0.9 and scores[False][1] < 0.1
    assert abs(scores[True][0] - 2 / 3) < 0.1 and scores[True][1] < 0.1
