"""NLCL as a BasicSR model: unsupervised deraining with two generators and a PatchGAN.

The maths live in the host-independent :class:`~nlcl_plugin.models.objective.NLCLObjective`;
this model only runs BasicSR's optimisation steps around it, in the same order as the
MMagic model (:class:`nlcl_plugin.mmagic.nlcl.NLCL`), so both hosts train identically.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LRScheduler

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

from ..distributed import average_gradients
from ..models.decomposition import decompose
from ..models.objective import NLCLObjective
from ..models.sampler import iteration_rng

__all__ = ['LinearTailLR', 'NLCLModel']


class LinearTailLR(LRScheduler):
    """Constant learning rate, then a linear decay over the last ``decay_iter`` iterations.

    The same schedule as MMagic's ``ConstantLR`` + ``LinearLR(end_factor)`` pair of the
    NLCL configs: at the 0-based iteration ``t`` (``t = current_iter - 1`` in BasicSR)
    the factor is 1 before ``total_iter - decay_iter`` and then falls linearly to
    ``end_factor``, reached at ``t = total_iter - 1``. A ``decay_iter`` longer than the
    run is cut to ``total_iter`` (so a shortened run still ends decayed).

    Args:
        optimizer (Optimizer): Wrapped optimizer.
        total_iter (int): Length of training (``NLCLModel`` defaults it to
            ``train.total_iter``).
        decay_iter (int): Length of the final linear decay.
        end_factor (float): Final multiple of the base learning rate (1/11 in NLCL).
        last_epoch (int): Index of the last step (-1 to start).
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 total_iter: int,
                 decay_iter: int,
                 end_factor: float = 1.0 / 11,
                 last_epoch: int = -1):
        if int(total_iter) < 1 or int(decay_iter) < 1:
            raise ValueError(f'LinearTailLR: total_iter and decay_iter must be >= 1, got '
                             f'total_iter={total_iter}, decay_iter={decay_iter}')
        self.total_iter = int(total_iter)
        self.decay_iter = min(int(decay_iter), self.total_iter)
        self.end_factor = float(end_factor)
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        """Multiple of the base learning rate at the 0-based iteration ``step``."""
        begin = self.total_iter - self.decay_iter
        if step < begin:
            return 1.0
        span = max(self.decay_iter - 1, 1)
        return 1.0 + (self.end_factor - 1.0) * min(step - begin, span) / span

    def get_lr(self):
        scale = self.factor(self.last_epoch)
        return [base_lr * scale for base_lr in self.base_lrs]


def _to_signed(img: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1] (the scale NLCL's networks work in)."""
    return img * 2.0 - 1.0


def _to_unit(img: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (img + 1.0) * 0.5


@MODEL_REGISTRY.register()
class NLCLModel(SRModel):
    """NLCL: O = B + R decomposed by G_B (``net_g``) and G_R (``net_r``), with ``net_d``.

    Ref: Ye et al., "Unsupervised Deraining: Where Contrastive Learning Meets
    Self-similarity", CVPR 2022; Chang et al., "... Asymmetric Contrastive Learning
    Meets Self-Similarity", TPAMI 2024.

    Data: ``lq`` is the rainy image O and, in training, ``gt`` an *unpaired* clean image
    B_u (``UnpairedRainImageDataset``), both (N, 3, H, W) in [0, 1]; the networks see
    them scaled to [-1, 1]. Validation is SRModel's (PSNR/SSIM through
    ``calculate_metric``) on a paired dataset, with ``result`` = B clamped to [0, 1].

    Each iteration (:meth:`optimize_parameters`): R = G_R(O) and G_B once on [O; B_u];
    ``net_d_steps`` discriminator steps on (B, B_u); then, from iteration
    ``net_d_init_iters + 1`` on, the generator step with D frozen: the objective's
    losses, one Adam step over G_B, G_R and the objective's projection heads
    (``optim_g``). With the legacy switch ``legacy_adv_head_bug`` the rain heads get a
    second Adam step with the same gradients (``optim_heads_legacy``). The samplers draw
    their anchors from :meth:`sampling_rng` (seed, iteration and rank). Multi-process
    training wraps G_B, G_R and D in DistributedDataParallel (also on CPU, with gloo)
    and all-reduces the heads' gradients.

    Options read from ``opt`` (besides SRModel's): ``network_r``, ``network_d``;
    ``path.pretrain_network_{r,d,objective}``, ``path.strict_load_{r,d}``,
    ``path.param_key_{r,d}``; ``train.gan_opt`` (BasicSR ``GANLoss`` with
    ``gan_type: lsgan``), ``train.layer_opt``, ``train.loc_opt``,
    ``train.consistency_opt``, ``train.sparsity_opt`` (optional, the objective's
    defaults otherwise), ``train.objective`` (keyword arguments of
    :class:`~nlcl_plugin.models.objective.NLCLObjective`), ``train.net_d_steps``
    (default 1), ``train.net_d_init_iters`` (default 0), ``train.ema_decay`` (moving
    averages ``net_g_ema``/``net_r_ema`` used by :meth:`test`; default 0: none),
    ``train.optim_g``,
    ``train.optim_d``, ``train.optim_heads_legacy`` (legacy only; defaults to
    ``optim_g``), ``train.scheduler`` (BasicSR's, or ``type: LinearTailLR``).

    Saved per checkpoint: ``net_g``, ``net_r``, ``net_d`` and ``net_objective`` (the
    projection heads) under ``models/``, and the optimizers and schedulers under
    ``training_states/``; :meth:`resume_training` restores all of them.
    """

    # ------------------------------------------------------------------ set-up
    def model_to_device(self, net: torch.nn.Module) -> torch.nn.Module:
        """BasicSR's placement, plus CPU DistributedDataParallel (gloo) when ``num_gpu: 0``."""
        if self.opt['dist'] and self.device.type == 'cpu':
            return DistributedDataParallel(
                net.to(self.device),
                find_unused_parameters=self.opt.get('find_unused_parameters', False))
        return super().model_to_device(net)

    def _build_network(self, label: str) -> torch.nn.Module:
        """Build ``network_<label>``, place it and load ``path.pretrain_network_<label>``."""
        net = self.model_to_device(build_network(self.opt[f'network_{label}']))
        self.print_network(net)
        load_path = self.opt['path'].get(f'pretrain_network_{label}')
        if load_path is not None:
            param_key = self.opt['path'].get(f'param_key_{label}', 'params')
            self.load_network(net, load_path, self.opt['path'].get(f'strict_load_{label}', True),
                              param_key)
        return net

    def _build_objective(self) -> NLCLObjective:
        train_opt = self.opt['train']
        disc = self.get_bare_model(self.net_d)
        settings = dict(train_opt.get('objective') or {})
        disc_layers = settings.get('disc_layers', (0, 3, 7, 11))
        settings.setdefault('disc_channels', disc.channels_of_taps(disc_layers))
        settings.setdefault('in_channels', disc.in_channels)
        settings.setdefault('gen_channels', self.get_bare_model(self.net_g).mid_channels)

        def optional(key):
            return build_loss(train_opt[key]) if train_opt.get(key) else None

        if not train_opt.get('gan_opt'):
            raise KeyError("NLCLModel: train.gan_opt is required (BasicSR's GANLoss with "
                           'gan_type: lsgan)')
        objective = NLCLObjective(
            gan_loss=build_loss(train_opt['gan_opt']),
            layer_loss=optional('layer_opt'),
            loc_loss=optional('loc_opt'),
            consistency_loss=optional('consistency_opt'),
            sparsity_loss=optional('sparsity_opt'),
            identity_loss=optional('identity_opt'),
            transplant_loss=optional('transplant_opt'),
            idempotence_loss=optional('idempotence_opt'),
            streak_floor_loss=optional('streak_floor_opt'),
            exclusion_loss=optional('exclusion_opt'),
            **settings)
        objective.check_generator_taps(self.get_bare_model(self.net_g),
                                       'train.objective.loc_layers')
        return objective.to(self.device)

    def init_training_settings(self):
        train_opt = self.opt['train']
        self.net_r = self._build_network('r')
        self.net_d = self._build_network('d')
        self.objective = self._build_objective()
        load_path = self.opt['path'].get('pretrain_network_objective')
        if load_path is not None:
            self.load_network(self.objective, load_path, True, 'params')
        if self.opt['dist']:
            # DDP broadcasts the networks from rank 0; the heads are not wrapped.
            with torch.no_grad():
                for tensor in list(self.objective.parameters()) + list(self.objective.buffers()):
                    dist.broadcast(tensor, src=0)
        for net in (self.net_g, self.net_r, self.net_d, self.objective):
            net.train()
        self.net_d_steps = int(train_opt.get('net_d_steps', 1))
        if self.net_d_steps < 1:
            raise ValueError(f'NLCLModel: train.net_d_steps must be >= 1, got {self.net_d_steps}')
        self.net_d_init_iters = int(train_opt.get('net_d_init_iters', 0))
        self._init_ema(float(train_opt.get('ema_decay', 0) or 0))
        self.setup_optimizers()
        self.setup_schedulers()

    def _init_ema(self, decay: float) -> None:
        """``net_g_ema``/``net_r_ema``: moving averages of G_B's and G_R's weights (SRModel's
        ``train.ema_decay``; 0 keeps none). Loaded from ``params_ema`` of the pretrained
        network files when given, otherwise copies of the networks."""
        if not 0 <= decay < 1:
            raise ValueError(f'NLCLModel: train.ema_decay must be in [0, 1), got {decay}')
        self.ema_decay = decay
        if decay == 0:
            return
        get_root_logger().info(f'Use Exponential Moving Average with decay: {decay}')
        for label in ('g', 'r'):
            ema = build_network(self.opt[f'network_{label}']).to(self.device)
            load_path = self.opt['path'].get(f'pretrain_network_{label}')
            if load_path is not None:
                self.load_network(ema, load_path,
                                  self.opt['path'].get(f'strict_load_{label}', True), 'params_ema')
            else:
                ema.load_state_dict(self.get_bare_model(getattr(self, f'net_{label}')).state_dict())
            setattr(self, f'net_{label}_ema', ema.requires_grad_(False).eval())

    @torch.no_grad()
    def model_ema(self, decay: float = 0.999) -> None:
        """SRModel's update, for both generators: ema = decay * ema + (1 - decay) * net."""
        for label in ('g', 'r'):
            net = self.get_bare_model(getattr(self, f'net_{label}'))
            ema_params = dict(getattr(self, f'net_{label}_ema').named_parameters())
            for name, param in net.named_parameters():
                ema_params[name].mul_(decay).add_(param, alpha=1 - decay)

    def setup_optimizers(self):
        train_opt = self.opt['train']
        logger = get_root_logger()
        params_g = []
        for prefix, net in (('net_g', self.net_g), ('net_r', self.net_r),
                            ('objective', self.objective)):
            for name, param in net.named_parameters():
                if param.requires_grad:
                    params_g.append(param)
                else:
                    logger.warning(f'Params {prefix}.{name} will not be optimized.')
        optim_g = dict(train_opt['optim_g'])
        optim_type = optim_g.pop('type')
        self.optimizer_g = self.get_optimizer(optim_type, params_g, **optim_g)
        self.optimizers.append(self.optimizer_g)

        optim_d = dict(train_opt['optim_d'])
        optim_type = optim_d.pop('type')
        self.optimizer_d = self.get_optimizer(optim_type, self.net_d.parameters(), **optim_d)
        self.optimizers.append(self.optimizer_d)

        self.optimizer_heads_legacy = None
        if self.objective.legacy_adv_head_bug:
            optim_h = dict(train_opt.get('optim_heads_legacy') or train_opt['optim_g'])
            optim_type = optim_h.pop('type')
            params = [p for p in self.objective.rain_sampler.parameters() if p.requires_grad]
            self.optimizer_heads_legacy = self.get_optimizer(optim_type, params, **optim_h)
            self.optimizers.append(self.optimizer_heads_legacy)

    def setup_schedulers(self):
        """BasicSR's schedulers, plus ``LinearTailLR`` (constant, then linear decay)."""
        scheduler_opt = dict(self.opt['train']['scheduler'])
        if scheduler_opt.get('type') != 'LinearTailLR':
            return super().setup_schedulers()
        scheduler_opt.pop('type')
        scheduler_opt.setdefault('total_iter', int(self.opt['train']['total_iter']))
        for optimizer in self.optimizers:
            self.schedulers.append(LinearTailLR(optimizer, **scheduler_opt))

    # ------------------------------------------------------------------ training
    def decompose(self, rainy: torch.Tensor,
                  clean: Optional[torch.Tensor] = None,
                  with_features: bool = False) -> tuple:
        """B, R and G_B(clean) (or None) for a batch; G_B runs once on [O; B_u].

        Args:
            rainy (Tensor): O, (N, 3, H, W) in [-1, 1].
            clean (Tensor, optional): B_u, (N, 3, H, W) in [-1, 1]; needed for the
                identity term of the location loss (``loc_identity``).
            with_features (bool): Also return G_B's location-loss taps of O (and B_u)
                from the same forward (``source_features`` of the objective).

        Returns:
            tuple: B (N, 3, H, W), R (N, 3, H, W), G_B(B_u) (N, 3, H, W) or None, and
            the taps with ``with_features``.
        """
        use_clean = clean is not None and self.objective.needs_identity
        return decompose(self.net_g, self.net_r, rainy, clean if use_clean else None,
                         self.objective.loc_layers if with_features else None)

    def _set_requires_grad_d(self, flag: bool) -> None:
        for param in self.net_d.parameters():
            param.requires_grad = flag

    def optimize_parameters(self, current_iter: int):
        """One NLCL iteration (D step(s), then the generator step) on the fed batch."""
        rainy = _to_signed(self.lq)
        clean = _to_signed(self.gt)
        generator_step = current_iter > self.net_d_init_iters
        loss_dict = OrderedDict()

        rng = self.sampling_rng(current_iter)
        # G_B's identity pass: B_u, or B_u's blocks mixed into O (``identity_mix``)
        identity_input, identity_mask = self.objective.identity_view(rainy, clean, rng)
        with torch.set_grad_enabled(generator_step):
            parts = self.decompose(rainy, identity_input, with_features=generator_step)
        bg, rain, identity = parts[:3]
        source_feats = parts[3] if generator_step else None

        for _ in range(self.net_d_steps):
            self.optimizer_d.zero_grad()
            d_losses = self.objective.discriminator_loss(self.net_d, bg, clean, identity)
            l_d = sum(d_losses.values())
            l_d.backward()
            self.optimizer_d.step()
        loss_dict.update(self._log_names(d_losses, 'd'))
        loss_dict['l_d'] = l_d.detach()

        if generator_step:
            self._set_requires_grad_d(False)
            self.optimizer_g.zero_grad()
            if self.optimizer_heads_legacy is not None:
                self.optimizer_heads_legacy.zero_grad()
            g_losses = self.objective.generator_losses(
                self.net_g, self.net_d, rainy, bg, rain, clean, identity,
                generator_rng=rng, source_features=source_feats, identity_mask=identity_mask)
            l_g = sum(g_losses.values())
            l_g.backward()
            average_gradients(self.objective.parameters())
            self.optimizer_g.step()
            if self.optimizer_heads_legacy is not None:
                # Legacy D2: a second Adam step (own state) on the rain heads, same grads.
                self.optimizer_heads_legacy.step()
            self._set_requires_grad_d(True)
            loss_dict.update(self._log_names(g_losses, 'g'))
            loss_dict['l_g'] = l_g.detach()
            loss_dict['layer_floor_gap'] = (g_losses['loss_layer'].detach() -
                                            self.objective.layer_floor())
            if self.ema_decay > 0:
                self.model_ema(decay=self.ema_decay)

        self.log_dict = self.reduce_loss_dict(loss_dict)

    def sampling_rng(self, current_iter: int) -> torch.Generator:
        """The samplers' random generator for iteration ``current_iter`` (1-based).

        Seeded from the run's seed (``torch.initial_seed()``, set by BasicSR from
        ``manual_seed``), the iteration and the rank, with the MMagic model's formula:
        the anchors of an iteration do not depend on what drew random numbers before it
        (e.g. a resume).
        """
        return iteration_rng(current_iter - 1, self.opt['rank'])

    @staticmethod
    def _log_names(losses: Dict[str, torch.Tensor], net: str) -> Dict[str, torch.Tensor]:
        """``loss_d_fake`` -> ``l_d_fake``; ``loss_gan`` -> ``l_g_gan`` (BasicSR's names)."""
        out = OrderedDict()
        for name, value in losses.items():
            stem = name[len('loss_'):]
            if net == 'd':
                stem = stem[len('d_'):] if stem.startswith('d_') else stem
            out[f'l_{net}_{stem}'] = value.detach()
        return out

    # ------------------------------------------------------------------ inference
    def test(self):
        """``output`` = B = G_B(O) clamped, in [0, 1] like ``lq``; (N, 3, H, W).

        With ``train.ema_decay`` > 0, G_B is the moving average ``net_g_ema``.
        """
        net_g = getattr(self, 'net_g_ema', None)
        if net_g is None:
            net_g = self.get_bare_model(self.net_g)
        was_training = net_g.training
        net_g.eval()
        with torch.no_grad():
            self.output = _to_unit(net_g(_to_signed(self.lq)).clamp(-1.0, 1.0))
        net_g.train(was_training)

    # ------------------------------------------------------------------ checkpoints
    def save(self, epoch: int, current_iter: int):
        """``net_g`` (G_B), ``net_r`` (G_R), ``net_d``, ``net_objective`` and the training state.

        With moving averages, ``net_g``/``net_r`` files hold them under ``params_ema``
        next to ``params`` (SRModel's layout).
        """
        for label in ('g', 'r'):
            net = getattr(self, f'net_{label}')
            ema = getattr(self, f'net_{label}_ema', None)
            if ema is None:
                self.save_network(net, f'net_{label}', current_iter)
            else:
                self.save_network([net, ema], f'net_{label}', current_iter,
                                  param_key=['params', 'params_ema'])
        self.save_network(self.net_d, 'net_d', current_iter)
        self.save_network(self.objective, 'net_objective', current_iter)
        self.save_training_state(epoch, current_iter)

    def resume_training(self, resume_state: dict):
        """Optimizers and schedulers (BasicSR), then the projection heads of that iteration.

        The networks themselves are loaded when the model is built: BasicSR's
        ``check_resume`` points ``path.pretrain_network_{g,r,d}`` at the same iteration.
        """
        super().resume_training(resume_state)
        path = osp.join(self.opt['path']['models'], f'net_objective_{resume_state["iter"]}.pth')
        if not osp.isfile(path):
            raise FileNotFoundError(f'NLCLModel: cannot resume the projection heads, {path} '
                                    f'is missing (saved with iteration {resume_state["iter"]})')
        self.load_network(self.objective, path, True, 'params')
