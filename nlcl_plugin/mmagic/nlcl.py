"""NLCL as an MMagic model: unsupervised deraining with two generators and a PatchGAN."""
from copy import deepcopy
from typing import Dict, List, Optional

import torch
from mmengine.optim import OptimWrapperDict

from mmagic.models.base_models import BaseEditModel
from mmagic.models.utils import set_requires_grad
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from ..distributed import average_gradients
from ..models.decomposition import decompose
from ..models.fast_ops import to_network_format
from ..models.objective import NLCLObjective
from ..models.sampler import iteration_rng


_NETWORKS = ('generator', 'rain_generator', 'discriminator', 'objective', 'generator_ema',
             'rain_generator_ema')


def _plain_key(key: str, prefix: str) -> str:
    for name in _NETWORKS:
        wrapped = f'{prefix}{name}.module.'
        if key.startswith(wrapped):
            return f'{prefix}{name}.' + key[len(wrapped):]
    return key


def _unwrapped_state_dict_keys(module, state_dict, prefix, local_metadata):
    """State-dict hook: 'generator.module.x' -> 'generator.x' (order kept)."""
    for key in list(state_dict):
        state_dict[_plain_key(key, prefix)] = state_dict.pop(key)
    return state_dict


def _accept_wrapped_keys(state_dict, prefix, *args):
    """Load pre-hook: checkpoints written with the wrapped key layout load as well."""
    for key in list(state_dict):
        plain = _plain_key(key, prefix)
        if plain != key:
            state_dict[plain] = state_dict.pop(key)


def _averages_default_to_the_weights(state_dict, prefix, *args):
    """Load pre-hook (``is_use_ema``): a checkpoint without moving averages (written
    without them, or an exported release file whose ``generator.*`` already are the
    averages) loads its generators into the averages too, so that evaluation uses the
    loaded weights rather than the averages' initialisation."""
    for net in ('generator', 'rain_generator'):
        src, dst = f'{prefix}{net}.', f'{prefix}{net}_ema.'
        if any(k.startswith(dst) for k in state_dict):
            continue
        for key in [k for k in state_dict if k.startswith(src)]:
            state_dict[dst + key[len(src):]] = state_dict[key]


def _build(cfg):
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg


@MODELS.register_module()
class NLCL(BaseEditModel):
    """NLCL: O = B + R decomposed by G_B (``generator``) and G_R (``rain_generator``).

    Ref: Ye et al., "Unsupervised Deraining: Where Contrastive Learning Meets
    Self-similarity", CVPR 2022; Chang et al., "... Asymmetric Contrastive Learning
    Meets Self-Similarity", TPAMI 2024.

    Training needs a rainy image as ``inputs`` and an *unpaired* clean image as
    ``data_samples.gt_img`` (see ``UnpairedRainDataset``). Each iteration runs the
    discriminator step, then the generator step with the discriminator frozen as the
    layer-loss encoder. Prediction returns B as ``output.pred_img`` (so MMagic's
    PSNR/SSIM work unchanged) and R as ``output.pred_rain``.

    Args:
        generator (dict): G_B config, e.g. ``dict(type='DecompositionGenerator')``.
        rain_generator (dict): G_R config.
        discriminator (dict): D config, e.g. ``dict(type='NLCLPatchDiscriminator')``.
        gan_loss (dict): ``dict(type='GANLoss', gan_type='lsgan', loss_weight=1.0)``.
        layer_loss (dict, optional): Layer contrastive loss config.
        loc_loss (dict, optional): Location contrastive loss config.
        consistency_loss (dict, optional): Consistency loss config.
        sparsity_loss (dict, optional): Sparsity loss config.
        identity_loss (dict, optional): ``dict(type='IdentityLoss', loss_weight=...)``:
            L1(G_B(B_u), B_u) (squared with ``criterion='l2'``), beyond the paper
            (default: no such term).
        transplant_loss (dict, optional): ``dict(type='RainTransplantLoss',
            loss_weight=...)``: L1(G_B(B_u + sg(O - B)), B_u), beyond the paper (default:
            no such term).
        idempotence_loss (dict, optional): ``dict(type='IdempotenceLoss',
            loss_weight=...)``: L1(G_B(sg(B)), sg(B)), beyond the paper (default: no such
            term).
        streak_floor_loss (dict, optional): ``dict(type='StreakFloorLoss',
            loss_weight=...)``: B keeps at least the clean crops' share of O's thin light
            along O's rain direction, beyond the paper (default: no such term).
        exclusion_loss (dict, optional): ``dict(type='LayerExclusionLoss',
            loss_weight=...)``: the detail of O - B not positively correlated with B's,
            beyond the paper (default: no such term).
        objective (dict, optional): Keyword arguments of
            :class:`~nlcl_plugin.models.objective.NLCLObjective` (taps, k, sampling,
            legacy switches).
        train_cfg (dict, optional): ``disc_steps`` (default 1) and ``disc_init_steps``
            (generator steps start after that many iterations, default 0).
        is_use_ema (bool): Keep ``generator_ema`` and ``rain_generator_ema``, moving
            averages of G_B's and G_R's weights (as MMagic's Real-ESRGAN does), updated by
            MMagic's ``ExponentialMovingAverageHook`` with
            ``module_keys=('generator_ema', 'rain_generator_ema')``. Validation, testing
            and inference then use the averages; training uses the raw networks.
            Defaults to False (the paper keeps no average).
        test_cfg (dict, optional): Unused, kept for MMagic's interface.
        init_cfg (dict, optional): Initialisation config.
        data_preprocessor (dict, optional): ``DataPreprocessor`` scaling to [-1, 1].
    """

    def __init__(self,
                 generator: dict,
                 rain_generator: dict,
                 discriminator: dict,
                 gan_loss: dict,
                 layer_loss: Optional[dict] = None,
                 loc_loss: Optional[dict] = None,
                 consistency_loss: Optional[dict] = None,
                 sparsity_loss: Optional[dict] = None,
                 identity_loss: Optional[dict] = None,
                 transplant_loss: Optional[dict] = None,
                 idempotence_loss: Optional[dict] = None,
                 streak_floor_loss: Optional[dict] = None,
                 exclusion_loss: Optional[dict] = None,
                 objective: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 is_use_ema: bool = False):
        # BaseEditModel's constructor requires a pixel loss; NLCL has none.
        super(BaseEditModel, self).__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg
        self.generator = MODELS.build(generator)
        self.rain_generator = MODELS.build(rain_generator)
        self.discriminator = MODELS.build(discriminator)
        self.is_use_ema = bool(is_use_ema)
        if self.is_use_ema:
            # Averages, never trained (no optimiser holds them). Their parameters keep
            # requires_grad, as Real-ESRGAN's do: the per-network DDP wrapper then wraps
            # them like the generators, so the hook finds the same state-dict keys in both.
            self.generator_ema = deepcopy(self.generator)
            self.rain_generator_ema = deepcopy(self.rain_generator)
        disc = self.discriminator
        objective = dict(objective or {})
        objective.setdefault('disc_channels', disc.channels_of_taps(
            objective.get('disc_layers', (0, 3, 7, 11))))
        objective.setdefault('in_channels', disc.in_channels)
        objective.setdefault('gen_channels', self.generator.mid_channels)
        self.objective = NLCLObjective(
            gan_loss=_build(gan_loss),
            layer_loss=_build(layer_loss),
            loc_loss=_build(loc_loss),
            consistency_loss=_build(consistency_loss),
            sparsity_loss=_build(sparsity_loss),
            identity_loss=_build(identity_loss),
            transplant_loss=_build(transplant_loss),
            idempotence_loss=_build(idempotence_loss),
            streak_floor_loss=_build(streak_floor_loss),
            exclusion_loss=_build(exclusion_loss),
            **objective)
        self.objective.check_generator_taps(self.generator, 'model.objective.loc_layers')
        # Set by NonFiniteLossHook: apply an update only when its loss is finite on every
        # rank (``nonfinite_skipped`` then names the updates skipped this iteration).
        self.skip_nonfinite_updates = False
        self.nonfinite_skipped: List[str] = []
        self.disc_steps = int(self.train_cfg.get('disc_steps', 1))
        self.disc_init_steps = int(self.train_cfg.get('disc_init_steps', 0))
        self.register_buffer('step_counter', torch.tensor(0), persistent=True)
        # mmengine saves ``model.module.state_dict()``; with one DDP wrapper per network
        # (MMSeparateDistributedDataParallel) that inserts '.module.' into every key,
        # while its loader unwraps the networks and expects plain keys. Keep checkpoints
        # in the plain layout whatever the launcher, and accept the wrapped one.
        self._register_state_dict_hook(_unwrapped_state_dict_keys)
        self._register_load_state_dict_pre_hook(_accept_wrapped_keys)
        if self.is_use_ema:
            self._register_load_state_dict_pre_hook(_averages_default_to_the_weights)

    @property
    def nlcl_objective(self) -> NLCLObjective:
        """The objective itself, also when a distributed wrapper holds it."""
        return getattr(self.objective, 'module', self.objective)

    # ------------------------------------------------------------------ inference
    def inference_generators(self):
        """(G_B, G_R) used for prediction: the moving averages with ``is_use_ema``."""
        if self.is_use_ema:
            return self.generator_ema, self.rain_generator_ema
        return self.generator, self.rain_generator

    def forward_tensor(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> torch.Tensor:
        """B = G_B(O) clamped to [-1, 1], (N, 3, H, W)."""
        return self.inference_generators()[0](inputs).clamp(-1.0, 1.0)

    def forward_inference(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> DataSample:
        bg = self.forward_tensor(inputs)
        rain = self.inference_generators()[1](inputs)
        # R lives in the [-1, 1] scale of O = B + R: destruct R/2 - 1 so that it is shown
        # as intensity R/2 in [0, 255].
        bg = self.data_preprocessor.destruct(bg, data_samples)
        rain = self.data_preprocessor.destruct((rain * 0.5 - 1.0).clamp(-1.0, 1.0), data_samples)
        return DataSample(pred_img=bg.cpu(), pred_rain=rain.cpu())

    # ------------------------------------------------------------------ training
    def decompose(self, rainy: torch.Tensor, clean: Optional[torch.Tensor] = None,
                  with_features: bool = False):
        """(B, R, G_B(clean) or None) for a batch; G_B runs once on [O; B_u].

        With ``with_features``, a fourth element: G_B's location-loss taps of O (and of
        B_u with ``loc_identity``) from this same forward, for
        :meth:`NLCLObjective.generator_losses` (``source_features``).
        """
        use_clean = clean is not None and self.nlcl_objective.needs_identity
        return decompose(self.generator, self.rain_generator, rainy,
                         clean if use_clean else None,
                         self.nlcl_objective.loc_layers if with_features else None)

    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        """Discriminator step, then generator step (heads included), as the paper trains."""
        data = self.data_preprocessor(data, True)
        # channels-last on CUDA, as the networks compute there (a no-op on CPU)
        rainy = to_network_format(data['inputs'])
        clean = to_network_format(data['data_samples'].gt_img)
        objective = self.nlcl_objective
        gen_ow = optim_wrapper['generator']
        disc_ow = optim_wrapper['discriminator']
        generator_step = int(self.step_counter) >= self.disc_init_steps
        log_vars = {}
        self.nonfinite_skipped = []

        rng = self.sampling_rng()
        # G_B's identity pass: B_u, or B_u's blocks mixed into O (``identity_mix``)
        identity_input, identity_mask = objective.identity_view(rainy, clean, rng)
        # Without a generator step nothing may record a graph through the DDP wrappers.
        with gen_ow.optim_context(self.generator), torch.set_grad_enabled(generator_step):
            parts = self.decompose(rainy, identity_input, with_features=generator_step)
        bg, rain, identity = parts[:3]
        source_feats = parts[3] if generator_step else None

        for _ in range(self.disc_steps):
            with disc_ow.optim_context(self.discriminator):
                d_losses = objective.discriminator_loss(self.discriminator, bg, clean, identity)
                loss_d, log_d = self.parse_losses(d_losses)
            if self._update_allowed(loss_d, 'discriminator'):
                self._discriminator_update(disc_ow, loss_d)
        log_vars.update({'loss_d': log_d.pop('loss'), **log_d})

        if generator_step:
            set_requires_grad(self.discriminator, False)
            with gen_ow.optim_context(self.generator):
                g_losses = objective.generator_losses(
                    self.generator, self.discriminator, rainy, bg, rain, clean, identity,
                    generator_rng=rng, source_features=source_feats,
                    identity_mask=identity_mask)
                loss_g, log_g = self.parse_losses(g_losses)
            if self._update_allowed(loss_g, 'generator'):
                self._generator_update(optim_wrapper, loss_g)
            set_requires_grad(self.discriminator, True)
            log_vars.update({'loss_g': log_g.pop('loss'), **log_g})
            log_vars['layer_floor_gap'] = log_g['loss_layer'] - objective.layer_floor()
        self.step_counter += 1
        return log_vars

    def _update_allowed(self, loss: torch.Tensor, name: str) -> bool:
        """False when the non-finite guard is on and ``loss`` is NaN/inf on any rank.

        Every rank takes the same decision (one all-reduce of a flag), so a skipped
        backward cannot leave the other ranks waiting in a gradient all-reduce.
        """
        if not self.skip_nonfinite_updates:
            return True
        bad = (~torch.isfinite(loss.detach())).any().float().reshape(1)
        if (torch.distributed.is_available() and torch.distributed.is_initialized()
                and torch.distributed.get_world_size() > 1):
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
        if bool(bad.item()):
            if name not in self.nonfinite_skipped:
                self.nonfinite_skipped.append(name)
            return False
        return True

    @torch.compiler.disable
    def sampling_rng(self) -> torch.Generator:
        """The samplers' random generator for this iteration.

        Seeded from the run's seed (``randomness.seed``), the iteration and the rank, so
        a resumed run draws exactly the anchors the uninterrupted run would have drawn.
        Outside ``torch.compile``'s tracing (a traced seed would recompile the step at
        every iteration).
        """
        from mmengine.dist import get_rank
        return iteration_rng(int(self.step_counter), get_rank())

    @torch.compiler.disable
    def _discriminator_update(self, disc_ow, loss: torch.Tensor) -> None:
        """Backward and optimiser step of D (outside ``torch.compile``'s tracing, as
        :meth:`_generator_update`)."""
        disc_ow.update_params(loss)

    @torch.compiler.disable
    def _generator_update(self, optim_wrapper: OptimWrapperDict, loss: torch.Tensor) -> None:
        """Backward, head-gradient averaging across ranks, then the optimiser step(s).

        Outside ``torch.compile``'s tracing (a compiled ``train_step``, mmengine's config
        key ``compile``): the backward leaves the graph anyway, the compiled parts' own
        backward graphs still run, and the optimiser wrappers' iteration counters would
        otherwise recompile the step at every iteration.

        The heads live in the objective, whose DDP wrapper is never called, so their
        gradients are averaged here; G_B and G_R are synchronised by their wrappers.
        """
        gen_ow = optim_wrapper['generator']
        legacy = self.nlcl_objective.legacy_adv_head_bug
        gen_ow.backward(loss)
        if not gen_ow.should_update():
            return
        average_gradients(self.nlcl_objective.parameters())
        gen_ow.step()
        if legacy:
            # Legacy D2: the rain heads get a second Adam step (own state), same grads.
            extra = optim_wrapper['rain_heads_legacy']
            extra.step()
            extra.zero_grad()
        gen_ow.zero_grad()
