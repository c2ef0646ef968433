"""D's inputs under random symmetries of the square (objective ``disc_augment``): each
image comes out as one of its 8 symmetries, written out with numpy; every symmetry is
drawn; the objective's adversarial terms score augmented images and its layer loss does
not; nothing changes in eval mode."""
import numpy as np
import pytest
import torch

from nlcl_plugin.models.disc_augment import DihedralAugment
from nlcl_plugin.models.discriminator import PatchDiscriminator
from nlcl_plugin.models.generator import DecompositionGenerator
from nlcl_plugin.models.objective import NLCLObjective


def _symmetries(img: np.ndarray, square: bool = True):
    """The 8 (or, for a non-square image, 4) symmetries of (C, H, W), by numpy."""
    out = []
    for flipped in (img, img[:, :, ::-1]):
        if square:
            out += [np.rot90(flipped, k, axes=(1, 2)) for k in range(4)]
        else:
            out += [flipped, flipped[:, ::-1, :]]
    return [np.ascontiguousarray(o) for o in out]


def _which(out: np.ndarray, img: np.ndarray, square: bool = True):
    hits = [k for k, s in enumerate(_symmetries(img, square))
            if s.shape == out.shape and np.array_equal(s, out)]
    assert hits, 'the output is not a symmetry of its input'
    return hits[0]


@pytest.mark.parametrize('shape', [(5, 2, 6, 6), (5, 2, 4, 7)])
def test_each_image_is_one_of_its_symmetries_and_every_one_is_drawn(shape):
    square = shape[-1] == shape[-2]
    x = torch.randn(*shape)
    aug = DihedralAugment()
    seen = set()
    for seed in range(40):
        out = aug(x, generator=torch.Generator().manual_seed(seed))
        assert out.shape == x.shape
        seen |= {_which(o, i, square) for o, i in zip(out.numpy(), x.numpy())}
    assert seen == set(range(8 if square else 4))


def test_the_augmentation_passes_gradients_and_is_off_in_eval_mode():
    x = torch.randn(3, 1, 5, 5, requires_grad=True)
    weight = torch.randn(3, 1, 5, 5)
    aug = DihedralAugment()
    (aug(x, torch.Generator().manual_seed(1)) * weight).sum().backward()
    # a permutation of the pixels: the gradient is the weight moved back
    for g, w in zip(x.grad.numpy(), weight.numpy()):
        assert any(np.array_equal(g, s) for s in _symmetries(w))
    assert torch.equal(aug.eval()(x), x)


class _LSGAN(torch.nn.Module):
    def forward(self, pred, target_is_real, is_disc=False):
        return ((pred - float(target_is_real)) ** 2).mean()


def _parts(seed=0):
    torch.manual_seed(seed)
    d = PatchDiscriminator(base_channels=8, init_gain=1.0, norm='none')
    kw = dict(gan_loss=_LSGAN(), disc_channels=tuple(d.tap_channels[i] for i in (0, 3, 7, 11)),
              num_bg_patches=4, num_rain_patches=8, num_loc_patches=16, search_size=24,
              loc_identity=False, layer_heads='frozen', disc_input='gray_detail')
    torch.manual_seed(seed)
    plain = NLCLObjective(**kw)
    torch.manual_seed(seed)
    augmented = NLCLObjective(disc_augment='dihedral', **kw)
    return d, plain, augmented


def test_the_discriminator_loss_scores_symmetries_of_its_inputs():
    """Brute force: with one fake and one real image, the augmented D loss is one of the
    64 losses of the pairs of symmetries (computed by numpy), more than one of them over
    draws, and the plain loss in eval mode."""
    d, plain, augmented = _parts()
    fake, real = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    view = plain.disc_view
    with torch.no_grad():
        vf, vr = view(fake)[0].numpy(), view(real)[0].numpy()
        score = [[float(((d(torch.from_numpy(s)[None])) ** 2).mean()) for s in _symmetries(vf)],
                 [float(((d(torch.from_numpy(s)[None]) - 1) ** 2).mean())
                  for s in _symmetries(vr)]]
        candidates = np.array([[0.5 * a, 0.5 * b] for a in score[0] for b in score[1]])
        got = set()
        for seed in range(12):
            torch.manual_seed(seed)
            out = augmented.discriminator_loss(d, fake, real)
            pair = np.array([float(out['loss_d_fake']), float(out['loss_d_real'])])
            match = np.flatnonzero(np.abs(candidates - pair).max(1) < 1e-5)
            assert match.size, 'not a pair of symmetries'
            got.add(int(match[0]))
        assert len(got) > 1
        ref = plain.discriminator_loss(d, fake, real)
        augmented.eval()
        same = augmented.discriminator_loss(d, fake, real)
    assert all(torch.equal(ref[k], same[k]) for k in ref)


def test_the_adversarial_term_is_augmented_and_the_layer_loss_is_not():
    d, plain, augmented = _parts(1)
    g = DecompositionGenerator(residual=True, zero_init_output=True)
    rainy = torch.rand(1, 3, 32, 32) * 2 - 1
    bg, rain = rainy * 0.9, rainy * 0.1
    d.requires_grad_(False)
    with torch.no_grad():
        adv = [float(((d(torch.from_numpy(s)[None]) - 1) ** 2).mean())
               for s in _symmetries(plain.disc_view(bg)[0].numpy())]

        def losses(obj, seed):
            torch.manual_seed(seed)
            return obj.generator_losses(g, d, rainy, bg, rain,
                                        generator_rng=torch.Generator().manual_seed(5))
        ref = losses(plain, 0)
        got = set()
        for seed in range(12):
            out = losses(augmented, seed)
            assert torch.equal(out['loss_layer'], ref['loss_layer'])
            assert torch.equal(out['loss_loc'], ref['loss_loc'])
            k = int(np.argmin([abs(a - float(out['loss_gan'])) for a in adv]))
            assert abs(adv[k] - float(out['loss_gan'])) < 1e-5
            got.add(k)
    assert len(got) > 1 and abs(adv[0] - float(ref['loss_gan'])) < 1e-5


def test_an_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match='disc_augment'):
        NLCLObjective(gan_loss=_LSGAN(), disc_augment='mixup')
