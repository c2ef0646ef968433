"""NLCL as an MMagic model: unsupervised deraining with two generators and a PatchGAN."""
from typing import Dict, List, Optional

import torch
from mmengine.optim import OptimWrapperDict

from mmagic.models.base_models import BaseEditModel
from mmagic.models.utils import set_requires_grad
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from ..models.objective import NLCLObjective
from ..models.sampler import iteration_rng


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
        objective (dict, optional): Keyword arguments of
            :class:`~nlcl_plugin.models.objective.NLCLObjective` (taps, k, sampling,
            legacy switches).
        train_cfg (dict, optional): ``disc_steps`` (default 1) and ``disc_init_steps``
            (generator steps start after that many iterations, default 0).
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
                 objective: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None):
        # BaseEditModel's constructor requires a pixel loss; NLCL has none.
        super(BaseEditModel, self).__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg
        self.generator = MODELS.build(generator)
        self.rain_generator = MODELS.build(rain_generator)
        self.discriminator = MODELS.build(discriminator)
        disc = self.discriminator
        objective = dict(objective or {})
        objective.setdefault('disc_channels', tuple(disc.tap_channels[i] for i in (0, 3, 7, 11)))
        objective.setdefault('in_channels', disc.in_channels)
        objective.setdefault('gen_channels', self.generator.mid_channels)
        self.objective = NLCLObjective(
            gan_loss=_build(gan_loss),
            layer_loss=_build(layer_loss),
            loc_loss=_build(loc_loss),
            consistency_loss=_build(consistency_loss),
            sparsity_loss=_build(sparsity_loss),
            **objective)
        self.disc_steps = int(self.train_cfg.get('disc_steps', 1))
        self.disc_init_steps = int(self.train_cfg.get('disc_init_steps', 0))
        self.register_buffer('step_counter', torch.tensor(0), persistent=True)

    # ------------------------------------------------------------------ inference
    def forward_tensor(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> torch.Tensor:
        """B = G_B(O) clamped to [-1, 1], (N, 3, H, W)."""
        return self.generator(inputs).clamp(-1.0, 1.0)

    def forward_inference(self, inputs: torch.Tensor, data_samples=None, **kwargs) -> DataSample:
        bg = self.forward_tensor(inputs)
        rain = self.rain_generator(inputs)
        # R lives in the [-1, 1] scale of O = B + R: destruct R/2 - 1 so that it is shown
        # as intensity R/2 in [0, 255].
        bg = self.data_preprocessor.destruct(bg, data_samples)
        rain = self.data_preprocessor.destruct((rain * 0.5 - 1.0).clamp(-1.0, 1.0), data_samples)
        return DataSample(pred_img=bg.cpu(), pred_rain=rain.cpu())

    # ------------------------------------------------------------------ training
    def decompose(self, rainy: torch.Tensor, clean: Optional[torch.Tensor] = None):
        """(B, R, G_B(clean) or None) for a batch; G_B runs once on [O; B_u]."""
        rain = self.rain_generator(rainy)
        if clean is None or not self.objective.loc_identity:
            return self.generator(rainy), rain, None
        if clean.shape[1:] != rainy.shape[1:]:
            raise ValueError(f'rainy {tuple(rainy.shape)} and clean {tuple(clean.shape)} '
                             'crops must have the same size (check the crop transforms)')
        both = self.generator(torch.cat([rainy, clean], dim=0))
        return both[:rainy.shape[0]], rain, both[rainy.shape[0]:]

    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        """Discriminator step, then generator step (heads included), as the paper trains."""
        data = self.data_preprocessor(data, True)
        rainy = data['inputs']
        clean = data['data_samples'].gt_img
        gen_ow = optim_wrapper['generator']
        disc_ow = optim_wrapper['discriminator']
        log_vars = {}

        with gen_ow.optim_context(self.generator):
            bg, rain, identity = self.decompose(rainy, clean)

        for _ in range(self.disc_steps):
            with disc_ow.optim_context(self.discriminator):
                d_losses = self.objective.discriminator_loss(self.discriminator, bg, clean)
                loss_d, log_d = self.parse_losses(d_losses)
            disc_ow.update_params(loss_d)
        log_vars.update({'loss_d': log_d.pop('loss'), **log_d})

        if int(self.step_counter) >= self.disc_init_steps:
            set_requires_grad(self.discriminator, False)
            with gen_ow.optim_context(self.generator):
                g_losses = self.objective.generator_losses(
                    self.generator, self.discriminator, rainy, bg, rain, clean,
                    identity, generator_rng=self.sampling_rng())
                loss_g, log_g = self.parse_losses(g_losses)
            self._generator_update(optim_wrapper, loss_g)
            set_requires_grad(self.discriminator, True)
            log_vars.update({'loss_g': log_g.pop('loss'), **log_g})
            log_vars['layer_floor_gap'] = log_g['loss_layer'] - self.objective.layer_floor()
        self.step_counter += 1
        return log_vars

    def sampling_rng(self) -> torch.Generator:
        """The samplers' random generator for this iteration.

        Seeded from the run's seed (``randomness.seed``), the iteration and the rank, so
        a resumed run draws exactly the anchors the uninterrupted run would have drawn.
        """
        from mmengine.dist import get_rank
        return iteration_rng(int(self.step_counter), get_rank())

    def _generator_update(self, optim_wrapper: OptimWrapperDict, loss: torch.Tensor) -> None:
        gen_ow = optim_wrapper['generator']
        if not self.objective.legacy_adv_head_bug:
            gen_ow.update_params(loss)
            return
        # Legacy D2: the rain heads get a second Adam step (own state) with the same grads.
        extra = optim_wrapper['rain_heads_legacy']
        gen_ow.backward(loss)
        gen_ow.step()
        extra.step()
        gen_ow.zero_grad()
        extra.zero_grad()
