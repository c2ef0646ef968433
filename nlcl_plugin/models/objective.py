"""NLCL's training objective around the two generators and the discriminator.

Host-independent: the MMagic and BasicSR models only run the optimisation steps and
call :meth:`NLCLObjective.discriminator_loss` / :meth:`NLCLObjective.generator_losses`.
The objective owns the three non-local samplers (with their projection heads, trained
with the generators) and the loss modules; the adversarial loss is injected (MMagic's
or BasicSR's ``GANLoss`` with ``gan_type='lsgan'``), so no host code is copied here.

Generator objective (spec: ``nlcl-method.md`` §4.6)::

    L_G = L_adv + L_loc + L_layer + L_consistency + L_sparsity

* ``L_adv``: LSGAN, D(B) against 1 (with ``gan_stop_quantile``, beyond the paper: only
  the patches scored below that quantile of D's scores on B_u, up to it).
* ``L_D``: LSGAN, D(B) against 0 and D(B_u) against 1 (with ``fake_identity``, beyond the
  paper: D(G_B(B_u)) against 0 as well).
* ``L_loc``: location contrastive (PatchNCE) between O and B in G_B's features at
  layers ``loc_layers``, searched non-locally in layer 0's features of O; with
  ``loc_identity`` averaged with the same term between B_u and G_B(B_u).
* ``L_layer``: layer contrastive between non-local groups of B (``num_bg_patches``
  positives) and of R (``num_rain_patches``), embedded by the frozen discriminator,
  searched in image space; averaged over the discriminator taps.
* ``L_consistency``: MSE(B + R, O); ``L_sparsity``: L1 of the implied rain.
* ``L_identity`` (optional, beyond the paper): L1(G_B(B_u), B_u), or its square; with
  ``identity_mix`` on the clean blocks of G_B(X), X clean blocks mixed into O.
* ``L_transplant`` (optional, beyond the paper): L1(G_B(B_u + sg(O - B)), B_u).
* ``L_idempotence`` (optional, beyond the paper): L1(G_B(sg(B)), sg(B)).
* ``L_streak_floor`` (optional, beyond the paper): relu(r mean T_k(O) - mean S(B)).
* ``L_exclusion`` (optional, beyond the paper): relu(corr(detail(O - B), detail(B)) - m).

Legacy switches reproduce the released code's defects (spec §6): ``legacy_disc_taps``
(D3: taps [input, L0, L3, L7]); D1/D2 (which heads are trained) are reproduced by the
host models through :meth:`NLCLObjective.frozen_heads` and their optimiser set-up.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .adversarial_stop import stopped_scores
from .detail_layer import DetailLayer, GrayImage, GrayToneAndDetail
from .disc_augment import build_disc_augment
from .discriminator import PatchDiscriminator
from .fast_ops import split_batch
from .generator import DecompositionGenerator
from .identity_mix import mix_blocks
from .losses import (ConsistencyLoss, LayerContrastiveLoss, LocationContrastiveLoss,
                     SparsityLoss, transplant)
from .sampler import NonLocalPatchSampler
from .streak_light import GrayStreakLight

__all__ = ['DISC_INPUTS', 'LAYER_HEAD_MODES', 'NLCLObjective']

#: What the discriminator sees (see ``NLCLObjective``).
DISC_INPUTS = ('image', 'detail', 'gray_detail', 'gray', 'gray_tone_detail',
               'gray_streak_light')

#: How the layer loss's projection heads are treated (see ``NLCLObjective``).
LAYER_HEAD_MODES = ('learned', 'frozen')


def _bare(module: nn.Module) -> nn.Module:
    """The network behind a DistributedDataParallel wrapper (for its tap methods)."""
    return getattr(module, 'module', module)


class NLCLObjective(nn.Module):
    """All NLCL losses; owns the samplers' projection heads.

    Args:
        gan_loss (nn.Module): ``forward(pred, target_is_real, is_disc)`` LSGAN loss whose
            ``loss_weight`` applies to the generator term (MMagic/BasicSR ``GANLoss``).
        layer_loss (nn.Module): Layer contrastive loss (default: official symmetric).
        loc_loss (nn.Module): Location contrastive loss (PatchNCE, tau 0.07).
        consistency_loss (nn.Module): MSE(B + R, O) (weight 1).
        sparsity_loss (nn.Module): L1 on the rain (weight 0.1).
        identity_loss (nn.Module, optional): :class:`~.losses.IdentityLoss` on the clean
            image (beyond the paper); None (default): no such term.
        transplant_loss (nn.Module, optional): :class:`~.losses.RainTransplantLoss`:
            G_B must remove from B_u + sg(O - B) what it removed from O (beyond the
            paper; one more G_B pass per step); None (default): no such term.
        idempotence_loss (nn.Module, optional): :class:`~.losses.IdempotenceLoss`:
            G_B must take nothing from its own output B, passed without gradient (beyond
            the paper; one more G_B pass per step); None (default): no such term.
        streak_floor_loss (nn.Module, optional): :class:`~.losses.StreakFloorLoss`: B
            keeps at least the clean crops' share ``r`` of O's thin light along O's rain
            direction (beyond the paper; needs the clean image in training); None
            (default): no such term.
        exclusion_loss (nn.Module, optional): :class:`~.losses.LayerExclusionLoss`: the
            detail of what G_B removed from O is not positively correlated with B's
            (beyond the paper); None (default): no such term.
        gen_channels (int): Width of the generator's tapped features (32).
        disc_channels (Sequence[int]): Channels of discriminator taps 0, 3, 7, 11.
        loc_layers (Sequence[int]): G_B layers for the location loss (0, 2, 4, 8, 12).
        disc_layers (Sequence[int]): Discriminator taps for the layer loss (0, 3, 7, 11).
        legacy_disc_taps (bool): D3 - use [input, L0, L3, L7] as the released code does.
        num_loc_patches (int): Locations per image for the location loss (256).
        num_bg_patches (int): Non-local background group size (8).
        num_rain_patches (int): Non-local rain group size (128).
        patch_size (int): Side of compared patches in the non-local search (16).
        search_size (int): Side of the search window (40).
        loc_neg_sampling (str): 'nonlocal_similar' (code), 'nonlocal_dissimilar' (figure)
            or 'random' (CUT).
        layer_sampling (str): How the layer loss's groups are drawn: 'nonlocal_similar'
            (paper) or 'random' (ablation).
        loc_identity (bool): Add the identity PatchNCE term on the clean image.
        embed_channels (int): Projection size (256).
        legacy_freeze_loc_heads (bool): D1 - the location heads are never trained.
        legacy_adv_head_bug (bool): D2 - the background heads are never trained and the
            rain heads receive a second optimiser step (done by the host model).
        layer_heads (str): The layer loss's projection heads: 'learned' (the paper's:
            trained with the generators) or 'frozen' (kept at their random
            initialisation; beyond the paper). Learned heads separate the background
            group from the rain group on their own within a few dozen iterations, after
            which the loss sits at its floor and sends G no gradient; fixed heads cannot,
            so the loss keeps pulling self-similar background patches together and
            pushing the rain away through the generators (see ``docs/training.md``).
        disc_input (str): What D sees of B, B_u and R: 'image' (the paper), 'detail'
            (the detail layer x - GaussianBlur(x), :class:`.detail_layer.DetailLayer`;
            beyond the paper) or 'gray_detail' (the detail layer of the channel mean,
            repeated over the channels): D then judges streaks and texture, not the
            palette in which unpaired clean photos differ from the rainy ones, and with
            'gray_detail' its gradient cannot tint B; or 'gray' (the channel mean
            itself, repeated): no colour, but tone and haze as well as streaks; or
            'gray_streak_light' (the streak light of the channel mean, repeated,
            :class:`.streak_light.GrayStreakLight`): only thin light along each image's
            dominant direction, so D can judge streaks but not texture, tone nor haze.
        detail_sigma (float): Blur of the detail layer's base, in pixels (3).
        disc_streak (tuple[int, int]): The square and line of 'gray_streak_light' (7, 21).
        disc_augment (str): 'none' (the paper) or 'dihedral' (beyond the paper): in
            training, every image D scores, real or fake, in D's step and in G's
            adversarial term, is seen under a random symmetry of the square
            (:class:`.disc_augment.DihedralAugment`), so that D cannot learn its few
            clean crops by heart. The layer loss's taps are taken without it.
        gan_stop_quantile (float, optional): See ``L_adv`` above (None: off).
        fake_identity (bool): False (the paper) or True (beyond the paper): D's fakes are
            G_B(B_u) as well as B, half each. The clean images then stand on both sides
            of D, which can tell a clean image from G_B's output on it only by what G_B
            changed there: D cannot learn its clean crops by heart (it scores them near
            2/3, the LSGAN optimum), and what it finds on G_B(B_u) (texture taken where
            no rain was) it can hold against B as well. Measured in
            ``docs/training.md`` 4.21: it does not keep G_B off the texture of images
            with little rain.
        identity_mix (int): 0 (default: G_B's identity pass sees B_u whole) or a block
            size in pixels (beyond the paper): G_B's identity pass sees
            X = M B_u + (1 - M) O, B_u's blocks of a random checkerboard mixed into O
            (:func:`.identity_mix.mix_blocks`), and the identity loss asks for X on B_u's
            blocks only, so that G_B cannot tell from the image as a whole whether to
            leave it alone. The hosts draw X with :meth:`identity_view`. Measured in
            ``docs/training.md`` 4.24: it does not keep G_B off the texture of images
            with little rain.
    """

    def __init__(self,
                 gan_loss: nn.Module,
                 layer_loss: Optional[nn.Module] = None,
                 loc_loss: Optional[nn.Module] = None,
                 consistency_loss: Optional[nn.Module] = None,
                 sparsity_loss: Optional[nn.Module] = None,
                 identity_loss: Optional[nn.Module] = None,
                 transplant_loss: Optional[nn.Module] = None,
                 idempotence_loss: Optional[nn.Module] = None,
                 streak_floor_loss: Optional[nn.Module] = None,
                 exclusion_loss: Optional[nn.Module] = None,
                 gen_channels: int = 32,
                 disc_channels: Sequence[int] = (64, 128, 256, 512),
                 in_channels: int = 3,
                 loc_layers: Sequence[int] = (0, 2, 4, 8, 12),
                 disc_layers: Sequence[int] = (0, 3, 7, 11),
                 legacy_disc_taps: bool = False,
                 num_loc_patches: int = 256,
                 num_bg_patches: int = 8,
                 num_rain_patches: int = 128,
                 patch_size: int = 16,
                 search_size: int = 40,
                 loc_neg_sampling: str = 'nonlocal_similar',
                 layer_sampling: str = 'nonlocal_similar',
                 loc_identity: bool = True,
                 embed_channels: int = 256,
                 legacy_freeze_loc_heads: bool = False,
                 legacy_adv_head_bug: bool = False,
                 layer_heads: str = 'learned',
                 disc_input: str = 'image',
                 detail_sigma: float = 3.0,
                 disc_streak: Tuple[int, int] = (7, 21),
                 disc_augment: str = 'none',
                 gan_stop_quantile: Optional[float] = None,
                 fake_identity: bool = False,
                 identity_mix: int = 0):
        super().__init__()
        if int(identity_mix) != identity_mix or identity_mix < 0:
            raise ValueError(f'identity_mix must be 0 (off) or a block size in pixels, got '
                             f'{identity_mix!r}')
        if identity_mix and fake_identity:
            raise ValueError('identity_mix and fake_identity exclude each other: D would '
                             'take rainy blocks of the mixed identity pass as clean fakes')
        if identity_mix and identity_loss is None:
            raise ValueError('identity_mix needs an identity loss (identity_loss)')
        if identity_mix and loc_identity:
            raise ValueError('identity_mix needs loc_identity=False: the location loss\'s '
                             'identity term would pair B_u with G_B of the mixed image')
        self.identity_mix = int(identity_mix)
        if disc_input not in DISC_INPUTS:
            raise ValueError(f'disc_input must be one of {DISC_INPUTS}, got {disc_input!r}')
        if layer_heads not in LAYER_HEAD_MODES:
            raise ValueError(f'layer_heads must be one of {LAYER_HEAD_MODES}, got '
                             f'{layer_heads!r}')
        if layer_heads == 'frozen' and legacy_adv_head_bug:
            raise ValueError("layer_heads='frozen' and legacy_adv_head_bug=True contradict "
                             'each other (the legacy bug trains the rain heads twice)')
        if len(disc_layers) != len(disc_channels):
            raise ValueError(f'disc_layers {tuple(disc_layers)} and disc_channels '
                             f'{tuple(disc_channels)} must have the same length')
        if gan_stop_quantile is not None:
            if getattr(gan_loss, 'gan_type', None) != 'lsgan':
                raise ValueError('gan_stop_quantile needs an LSGAN loss (gan_type=\'lsgan\'), '
                                 f'got gan_type={getattr(gan_loss, "gan_type", None)!r}')
            if not 0.0 <= gan_stop_quantile <= 1.0:
                raise ValueError(f'gan_stop_quantile must be in [0, 1], got {gan_stop_quantile}')
        self.gan_stop_quantile = gan_stop_quantile
        self.fake_identity = bool(fake_identity)
        self.gan_loss = gan_loss
        self.layer_loss = layer_loss if layer_loss is not None else LayerContrastiveLoss()
        self.loc_loss = loc_loss if loc_loss is not None else LocationContrastiveLoss()
        self.consistency_loss = consistency_loss if consistency_loss is not None else ConsistencyLoss()
        self.sparsity_loss = sparsity_loss if sparsity_loss is not None else SparsityLoss()
        # beyond the paper: L1(G_B(B_u), B_u) (None: no such term, as in NLCL)
        self.identity_loss = identity_loss
        # beyond the paper: L1(G_B(B_u + sg(O - B)), B_u) (None: no such term)
        self.transplant_loss = transplant_loss
        # beyond the paper: L1(G_B(sg(B)), sg(B)) (None: no such term)
        self.idempotence_loss = idempotence_loss
        # beyond the paper: relu(r mean T_k(O) - mean S(B)) (None: no such term)
        self.streak_floor_loss = streak_floor_loss
        # beyond the paper: relu(corr(detail(O - B), detail(B)) - m) (None: no such term)
        self.exclusion_loss = exclusion_loss
        self.loc_layers = tuple(loc_layers)
        self.legacy_disc_taps = legacy_disc_taps
        if legacy_disc_taps:
            # The released code prepends the input and zips with 4 ids: [x, L0, L3, L7].
            self.disc_layers = tuple(disc_layers)[:-1]
            tap_channels = (in_channels, *tuple(disc_channels)[:-1])
        else:
            self.disc_layers = tuple(disc_layers)
            tap_channels = tuple(disc_channels)
        self.loc_identity = loc_identity
        self.loc_sampler = NonLocalPatchSampler([gen_channels] * len(self.loc_layers),
                                                num_loc_patches, patch_size, search_size,
                                                mode=loc_neg_sampling,
                                                embed_channels=embed_channels)
        self.bg_sampler = NonLocalPatchSampler(tap_channels, num_bg_patches, patch_size,
                                               search_size, mode=layer_sampling,
                                               embed_channels=embed_channels)
        self.rain_sampler = NonLocalPatchSampler(tap_channels, num_rain_patches, patch_size,
                                                 search_size, mode=layer_sampling,
                                                 embed_channels=embed_channels)
        self.legacy_freeze_loc_heads = legacy_freeze_loc_heads
        self.legacy_adv_head_bug = legacy_adv_head_bug
        self.layer_heads = layer_heads
        self.disc_input = disc_input
        # what D sees of every image it judges or encodes (no parameters)
        self.disc_view = (nn.Identity() if disc_input == 'image' else
                          GrayImage() if disc_input == 'gray' else
                          GrayToneAndDetail(detail_sigma) if disc_input == 'gray_tone_detail' else
                          GrayStreakLight(*disc_streak) if disc_input == 'gray_streak_light' else
                          DetailLayer(detail_sigma, gray=disc_input == 'gray_detail'))
        # applied to D's scored inputs in training mode only (no parameters)
        self.disc_augmenter = build_disc_augment(disc_augment)
        for name in self.frozen_heads():
            getattr(self, name).requires_grad_(False)

    def check_generator_taps(self, generator: DecompositionGenerator, key: str) -> None:
        """Raise ``ValueError`` naming the config ``key`` when ``loc_layers`` are not layers
        of ``generator`` (a G_B with fewer blocks than NLCL's 16 has fewer layers; the
        location loss taps them even at weight 0)."""
        try:
            generator.check_layer_indices(self.loc_layers)
        except ValueError as err:
            raise ValueError(
                f'{key}={self.loc_layers}: {err}; a generator with num_blocks='
                f'{generator.num_blocks} has layers 0 (input conv), 1..{generator.num_blocks} '
                f'(blocks), {generator.num_blocks + 1} (tail) and {generator.num_blocks + 2} '
                f'(output conv)') from err

    def identity_view(self, rainy: torch.Tensor, clean: Optional[torch.Tensor],
                      generator: Optional[torch.Generator] = None
                      ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """What G_B's identity pass is given, and where the identity is asked for.

        Returns ``(clean, None)`` without ``identity_mix``; with it ``(X, M)`` from
        :func:`.identity_mix.mix_blocks` (X (N, 3, H, W), M (N, 1, H, W)), drawn with
        ``generator``. Pass X as the clean image of the identity pass and M as
        ``identity_mask`` to :meth:`generator_losses`.
        """
        if not self.identity_mix or clean is None:
            return clean, None
        return mix_blocks(rainy, clean, self.identity_mix, generator)

    @property
    def needs_identity(self) -> bool:
        """Whether the training step needs G_B(B_u) (``loc_identity``, an identity loss or
        ``fake_identity``)."""
        return self.loc_identity or self.identity_loss is not None or self.fake_identity

    def frozen_heads(self) -> List[str]:
        """Names of the samplers whose heads are never trained (legacy switches,
        ``layer_heads='frozen'``)."""
        names = []
        if self.legacy_freeze_loc_heads:
            names.append('loc_sampler')
        if self.legacy_adv_head_bug or self.layer_heads == 'frozen':
            names.append('bg_sampler')
        if self.layer_heads == 'frozen':
            names.append('rain_sampler')
        return names

    @property
    def augments(self) -> bool:
        """Whether D's scored inputs are augmented now (``disc_augment`` in training)."""
        return self.disc_augmenter is not None and self.training

    def scored_view(self, x: torch.Tensor) -> torch.Tensor:
        """What D scores of ``x`` (N, 3, H, W): its view, augmented while training."""
        x = self.disc_view(x)
        return self.disc_augmenter(x) if self.augments else x

    # ------------------------------------------------------------------ discriminator
    def discriminator_loss(self, discriminator: PatchDiscriminator, fake_bg: torch.Tensor,
                           clean: torch.Tensor,
                           identity: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """L_D = (LSGAN(D(B.detach()), 0) + LSGAN(D(B_u), 1)) / 2, D seeing
        :meth:`scored_view` of each (with ``disc_augment``, a random symmetry per image
        while training). With ``fake_identity`` the fake term is the mean of
        LSGAN(D(B.detach()), 0) and LSGAN(D(G_B(B_u).detach()), 0).

        Args:
            fake_bg (Tensor): B = G_B(O), (N, 3, H, W); detached here.
            clean (Tensor): Unpaired clean images B_u, (M, 3, H', W').
            identity (Tensor, optional): G_B(B_u), (M, 3, H', W'); detached here. Needed
                with ``fake_identity``, ignored without.
        """
        view = self.scored_view
        if self.fake_identity:
            if identity is None:
                raise ValueError('fake_identity needs G_B(B_u) (identity)')
            if identity.shape != clean.shape:
                raise ValueError(f'identity {tuple(identity.shape)} must have the clean '
                                 f'images\' shape {tuple(clean.shape)}')
        if fake_bg.shape[1:] == clean.shape[1:]:
            # one pass over [B; (G_B(B_u);) B_u] (D works sample by sample: same scores,
            # fewer and larger kernels, each weight read once)
            fakes = [fake_bg.detach()]
            if self.fake_identity:
                fakes.append(identity.detach())
            n = sum(f.shape[0] for f in fakes)
            scores = discriminator(view(torch.cat([*fakes, clean])))
            fake_scores, real_scores = split_batch(scores, n)
            if self.fake_identity:
                bg_scores, identity_scores = split_batch(fake_scores, fake_bg.shape[0])
        else:
            fake_scores = bg_scores = discriminator(view(fake_bg.detach()))
            real_scores = discriminator(view(clean))
            if self.fake_identity:
                identity_scores = discriminator(view(identity.detach()))
        if self.fake_identity:
            fake = 0.5 * (self.gan_loss(bg_scores, False, is_disc=True)
                          + self.gan_loss(identity_scores, False, is_disc=True))
        else:
            fake = self.gan_loss(fake_scores, False, is_disc=True)
        real = self.gan_loss(real_scores, True, is_disc=True)
        return dict(loss_d_fake=0.5 * fake, loss_d_real=0.5 * real)

    # ------------------------------------------------------------------ generator parts
    def location_features(self, generator: DecompositionGenerator, sources: torch.Tensor,
                          targets: torch.Tensor,
                          source_features: Optional[Sequence[torch.Tensor]] = None):
        """G_B's taps ``loc_layers`` of the keys' images (detached: the location loss
        detaches its keys) and of the queries' images (with graph).

        Args:
            source_features (list[Tensor], optional): The sources' taps if already
                computed (e.g. recorded in the forward that produced B); default:
                computed here without graph.

        Returns:
            (list[Tensor], list[Tensor]): source taps, target taps, (N, C, H, W) each.
        """
        net = _bare(generator)
        if source_features is None:
            with torch.no_grad():
                source_features = net.forward_features(sources, self.loc_layers)
        return ([f.detach() for f in source_features],
                net.forward_features(targets, self.loc_layers))

    def location_contrast(self, feats_src: Sequence[torch.Tensor],
                          feats_tgt: Sequence[torch.Tensor],
                          generator_rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """PatchNCE between target queries and source keys, averaged over the levels.

        Locations are searched in the first source level and reused at every level
        and for the target.
        """
        keys, locations = self.loc_sampler(feats_src, generator=generator_rng)
        queries, _ = self.loc_sampler(feats_tgt, locations=locations)
        return torch.stack([self.loc_loss(q, k) for q, k in zip(queries, keys)]).mean()

    def discriminator_pass(self, discriminator: PatchDiscriminator, bg: torch.Tensor,
                           rain: torch.Tensor, with_scores: bool = True):
        """(Frozen) D's taps of B and R for the layer loss, and D(B) from the same pass.

        Returns:
            (list[Tensor], list[Tensor], Tensor | None): taps of B, taps of R (``[x]``
            first with ``legacy_disc_taps``) and the score map D(B) (None unless
            ``with_scores``).
        """
        disc = _bare(discriminator)
        view = self.disc_view
        if bg.shape == rain.shape:
            # one pass over [B; R], scoring B only (D works sample by sample)
            n = bg.shape[0]
            feats, scores = disc.features_and_scores(
                view(torch.cat([bg, rain])), self.disc_layers,
                include_input=self.legacy_disc_taps, score_samples=n if with_scores else 0)
            halves = [split_batch(f, n) for f in feats]
            return [h[0] for h in halves], [h[1] for h in halves], scores
        feats_bg, scores = disc.features_and_scores(
            view(bg), self.disc_layers, include_input=self.legacy_disc_taps,
            score_samples=None if with_scores else 0)
        feats_rain, _ = disc.features_and_scores(
            view(rain), self.disc_layers, include_input=self.legacy_disc_taps, score_samples=0)
        return feats_bg, feats_rain, scores

    def layer_contrast(self, feats_bg: Sequence[torch.Tensor], feats_rain: Sequence[torch.Tensor],
                       bg: torch.Tensor, rain: torch.Tensor,
                       generator_rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """Layer contrastive loss of D's taps: groups searched in B and in R (image space)."""
        z_bg, _ = self.bg_sampler(feats_bg, search_map=bg, generator=generator_rng)
        z_rain, _ = self.rain_sampler(feats_rain, search_map=rain, generator=generator_rng)
        return torch.stack([self.layer_loss(b, r) for b, r in zip(z_bg, z_rain)]).mean()

    # ------------------------------------------------------------------ generator
    def location_loss(self, generator: DecompositionGenerator, source: torch.Tensor,
                      target: torch.Tensor,
                      generator_rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """PatchNCE between ``source`` (keys) and ``target`` (queries) in G's features.

        Both (N, 3, H, W). Locations are searched in layer ``loc_layers[0]`` of the
        source and reused at every level and for the target.
        """
        feats_src, feats_tgt = self.location_features(generator, source, target)
        return self.location_contrast(feats_src, feats_tgt, generator_rng)

    def layer_loss_value(self, discriminator: PatchDiscriminator, bg: torch.Tensor,
                         rain: torch.Tensor,
                         generator_rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """Layer contrastive loss between non-local groups of B and R (D frozen by caller)."""
        feats_bg, feats_rain, _ = self.discriminator_pass(discriminator, bg, rain,
                                                          with_scores=False)
        return self.layer_contrast(feats_bg, feats_rain, bg, rain, generator_rng)

    def generator_losses(self,
                         generator: DecompositionGenerator,
                         discriminator: PatchDiscriminator,
                         rainy: torch.Tensor,
                         bg: torch.Tensor,
                         rain: torch.Tensor,
                         clean: Optional[torch.Tensor] = None,
                         identity: Optional[torch.Tensor] = None,
                         generator_rng: Optional[torch.Generator] = None,
                         source_features: Optional[Sequence[Sequence[torch.Tensor]]] = None,
                         identity_mask: Optional[torch.Tensor] = None
                         ) -> Dict[str, torch.Tensor]:
        """Every generator-step loss term, each already weighted; ``L_G`` is their sum.

        Work is shared without changing any term: D runs once on B for both the
        adversarial term and the layer loss's taps, and G_B's taps of the keys' images
        (O, B_u) are those recorded when B and G_B(B_u) were computed
        (``source_features``) or else run without graph (the location loss detaches
        its keys). The samplers
        draw in the order of the separate methods (location loss of O, of B_u, then the
        layer loss's B and R groups), so the terms equal :meth:`location_loss` /
        :meth:`layer_loss_value` called one after the other with the same generator.
        Passes of one network over same-sized inputs are batched (D over [B; R], G_B's
        query taps over [B; G_B(B_u)] when ``source_features`` are given): the networks
        work sample by sample, so the values are those of separate passes, with fewer
        and larger kernels (run the tools with freed memory kept, see
        :func:`.fast_ops.keep_freed_memory`, or larger batches pay in page faults).

        Args:
            generator (DecompositionGenerator): G_B (its features encode the location loss).
            discriminator (PatchDiscriminator): D, frozen by the caller; a distributed
                wrapper is looked through (D is an encoder here, not a trained network).
            rainy (Tensor): O, (N, 3, H, W) in [-1, 1].
            bg (Tensor): B = G_B(O); rain (Tensor): R = G_R(O); both (N, 3, H, W).
            clean (Tensor, optional): Unpaired clean B_u (needed with ``loc_identity``).
            identity (Tensor, optional): G_B(B_u).
            source_features (list[list[Tensor]], optional): G_B's taps ``loc_layers``
                of O (and of B_u with ``loc_identity``), one list per image, e.g.
                recorded (:func:`.generator.recording_features`) while B and G_B(B_u) were computed;
                they are detached here. Default: computed without graph.
            identity_mask (Tensor, optional): With ``identity_mix``: M of
                :meth:`identity_view`, ``identity`` being G_B(X) (``clean`` stays B_u,
                which X equals on M); the identity loss runs on M's pixels only.

        Returns:
            dict: ``loss_gan``, ``loss_loc``, ``loss_layer``, ``loss_consistency``,
            ``loss_sparsity`` and, with an identity loss, ``loss_identity``, with a
            transplant loss, ``loss_transplant``, with an idempotence loss,
            ``loss_idempotence``, with a streak floor loss, ``loss_streak_floor``,
            with an exclusion loss, ``loss_exclusion`` (scalars with grad). Use
            :meth:`layer_floor` for logging the layer loss's distance to its minimum.
        """
        if self.needs_identity and (clean is None or identity is None):
            raise ValueError(('loc_identity=True' if self.loc_identity else 'identity_loss')
                             + ' needs the clean image and G_B(clean)')
        if (not self.loc_identity and source_features is not None
                and len(source_features) == 2):
            # G_B(B_u) was computed for the identity loss only: B_u's taps unused
            source_features = source_features[:1]
        feats_bg, feats_rain, scores = self.discriminator_pass(discriminator, bg, rain,
                                                               with_scores=not self.augments)
        if self.augments:  # D scores B under its own draw; the layer loss's taps without
            scores = _bare(discriminator)(self.scored_view(bg))
        if self.gan_stop_quantile is not None:
            if clean is None:
                raise ValueError('gan_stop_quantile needs the clean image')
            with torch.no_grad():
                real_scores = _bare(discriminator)(self.scored_view(clean))
            scores = stopped_scores(scores, real_scores, self.gan_stop_quantile,
                                    float(getattr(self.gan_loss, 'real_label_val', 1.0)))
        losses = dict(loss_gan=self.gan_loss(scores, True, is_disc=False))

        pairs = [(rainy, bg)]
        if self.loc_identity:
            pairs.append((clean, identity))
        if source_features is not None and len(source_features) != len(pairs):
            raise ValueError(f'source_features: expected {len(pairs)} lists of taps (O'
                             f'{" and B_u" if self.loc_identity else ""}), '
                             f'got {len(source_features)}')
        if len(pairs) == 2 and source_features is not None and bg.shape == identity.shape:
            # the queries' taps of B and G_B(B_u) from one forward of G_B on [B; G_B(B_u)]
            n = bg.shape[0]
            both = _bare(generator).forward_features(torch.cat([bg, identity]), self.loc_layers)
            halves = [split_batch(f, n) for f in both]
            targets = [[h[0] for h in halves], [h[1] for h in halves]]
            loc = [self.location_contrast([f.detach() for f in source_features[i]], targets[i],
                                          generator_rng=generator_rng) for i in range(2)]
        else:
            loc = [self.location_contrast(
                *self.location_features(generator, src, tgt, None if source_features is None
                                        else source_features[i]),
                generator_rng=generator_rng) for i, (src, tgt) in enumerate(pairs)]
        losses['loss_loc'] = loc[0] if len(loc) == 1 else 0.5 * (loc[0] + loc[1])
        losses['loss_layer'] = self.layer_contrast(feats_bg, feats_rain, bg, rain, generator_rng)
        losses['loss_consistency'] = self.consistency_loss(bg, rain, rainy)
        losses['loss_sparsity'] = self.sparsity_loss(rainy, bg, rain)
        if self.identity_loss is not None:
            if self.identity_mix and identity_mask is None:
                raise ValueError('identity_mix: pass the mask of identity_view as '
                                 'identity_mask')
            losses['loss_identity'] = self.identity_loss(identity, clean, identity_mask)
        if self.transplant_loss is not None:
            if clean is None:
                raise ValueError('transplant_loss needs the clean image')
            restored = _bare(generator)(transplant(clean, rainy, bg))
            losses['loss_transplant'] = self.transplant_loss(restored, clean)
        if self.idempotence_loss is not None:
            losses['loss_idempotence'] = self.idempotence_loss(
                _bare(generator)(bg.detach()), bg)
        if self.streak_floor_loss is not None:
            losses['loss_streak_floor'] = self.streak_floor_loss(rainy, bg, clean)
        if self.exclusion_loss is not None:
            losses['loss_exclusion'] = self.exclusion_loss(rainy, bg)
        return losses

    def layer_floor(self) -> float:
        """The layer loss's theoretical minimum (weighted as the loss is)."""
        return float(self.layer_loss.floor(self.bg_sampler.num_patches,
                                           self.rain_sampler.num_patches))
