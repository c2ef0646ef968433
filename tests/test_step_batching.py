"""Batched passes of the training step give the values of separate passes."""
import torch
from test_inference_speedpaths import _grads, reference_generator_losses, tiny

from nlcl_plugin.models.decomposition import decompose


def test_discriminator_loss_in_one_pass_equals_two():
    g_b, _, d, obj = tiny(False, True)
    gen = torch.Generator().manual_seed(3)
    fake = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    clean = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    batched = obj.discriminator_loss(d, fake, clean)
    sum(batched.values()).backward()
    grads = {k: v.clone() for k, v in _grads(d).items()}
    d.zero_grad()
    separate = dict(loss_d_fake=0.5 * obj.gan_loss(d(fake), False, is_disc=True),
                    loss_d_real=0.5 * obj.gan_loss(d(clean), True, is_disc=True))
    sum(separate.values()).backward()
    for k in separate:
        torch.testing.assert_close(batched[k], separate[k], rtol=1e-5, atol=1e-6)
    for k, v in _grads(d).items():
        torch.testing.assert_close(grads[k], v, rtol=1e-4, atol=1e-6, msg=k)


def test_recorded_and_batched_location_taps_equal_one_call_at_a_time():
    g_b, g_r, d, obj = tiny(False, True)
    d.requires_grad_(False)
    gen = torch.Generator().manual_seed(5)
    rainy = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    clean = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    runs = []
    for shared in (True, False):
        for m in (g_b, g_r, obj):
            m.zero_grad()
        bg, rain, identity, taps = decompose(g_b, g_r, rainy, clean, obj.loc_layers)
        rng = torch.Generator().manual_seed(11)
        if shared:
            losses = obj.generator_losses(g_b, d, rainy, bg, rain, clean, identity,
                                          generator_rng=rng, source_features=taps)
        else:
            losses = reference_generator_losses(obj, g_b, d, rainy, bg, rain, clean, identity, rng)
        sum(losses.values()).backward()
        grads = {f'{k}.{n}': v.clone() for k, m in (('g_b', g_b), ('g_r', g_r), ('obj', obj))
                 for n, v in _grads(m).items()}
        runs.append(({k: v.detach() for k, v in losses.items()}, grads))
    (new, new_g), (ref, ref_g) = runs
    for k in ref:
        torch.testing.assert_close(new[k], ref[k], rtol=1e-5, atol=1e-6, msg=k)
    assert new_g.keys() == ref_g.keys()
    for k in ref_g:
        # a bias before an InstanceNorm gets a gradient of rounding noise: scale it as
        # its weight's
        ref_k = k[:-len('bias')] + 'weight' if k.endswith('bias') else k
        scale = float(ref_g[ref_k].abs().max()) + 1e-12
        torch.testing.assert_close(new_g[k] / scale, ref_g[k] / scale, rtol=0, atol=1e-4, msg=k)
