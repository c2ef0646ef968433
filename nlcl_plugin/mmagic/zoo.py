"""MMagic's own models beside NLCL: what they need to run on the plugin's rain data.

Restormer and NAFNet are MMagic editing models and run unchanged. MMagic's CycleGAN is a
translation model: it reads its two domains from ``inputs['img_<domain>']`` (the configs
copy the demo's rainy and clean crops there with MMagic's ``CopyValues``) and writes each
translation to ``fake_<domain>``, where the editing metrics (PSNR, SSIM), which read
``output.pred_img``, do not look. :class:`RainCycleGAN` is CycleGAN with that one
addition; its training, losses and networks are MMagic's.

:class:`ModelDerainer` derains single images with any of these models as its own test
step does (what the demo report and the comparison run for them), and
:func:`deraining_network` names the network that derains (for complexity counts).
"""
from mmagic.models.editors.cyclegan import CycleGAN
from mmagic.registry import MODELS
from mmagic.structures import DataSample

__all__ = ['RainCycleGAN', 'ModelDerainer', 'deraining_network']


@MODELS.register_module()
class RainCycleGAN(CycleGAN):
    """MMagic's ``CycleGAN`` between a rainy and a clean domain, whose validation and test
    outputs also carry the derained image as ``output.pred_img``.

    Args:
        rainy_domain (str): The rainy domain's name. Defaults to ``'rainy'``.
        clean_domain (str): The clean domain's name. Defaults to ``'clean'``.
        *args, **kwargs: ``CycleGAN``'s (``generator``, ``discriminator``, the domains,
            ``loss_config``...).
    """

    def __init__(self, *args, rainy_domain: str = 'rainy', clean_domain: str = 'clean',
                 **kwargs):
        super().__init__(*args, **kwargs)
        missing = {rainy_domain, clean_domain} - set(self._reachable_domains)
        if missing:
            raise ValueError(f'RainCycleGAN: domains {sorted(missing)} are not among '
                             f'reachable_domains={self._reachable_domains}')
        self.rainy_domain, self.clean_domain = rainy_domain, clean_domain

    def _with_prediction(self, samples):
        """Each sample's rainy image translated to the clean domain as ``output.pred_img``
        (0-255, the channel order of MMagic's other editing models' outputs)."""
        for sample in samples:
            sample.output = DataSample(pred_img=sample.get(f'fake_{self.clean_domain}'))
        return samples

    def val_step(self, data: dict):
        return self._with_prediction(super().val_step(data))

    def test_step(self, data: dict):
        return self._with_prediction(super().test_step(data))

    def derain(self, img):
        """The clean domain's generator applied to ``img`` (a batch normalised as the
        data preprocessor normalises its inputs)."""
        return self.translation(img, target_domain=self.clean_domain)


#: Loading transforms of a test pipeline, which :class:`ModelDerainer` replaces by the image.
_LOADING = ('LoadRGBImage', 'LoadImageFromFile')


def deraining_network(model):
    """The network that derains in a built model: NLCL's and MMagic's editing models'
    ``generator`` (for NLCL: G_B), :class:`RainCycleGAN`'s clean domain's generator."""
    if isinstance(model, RainCycleGAN):
        return model.generators[model.clean_domain]
    return model.generator


class ModelDerainer:
    """Derain 8-bit RGB images with any MMagic model of a config, as its own test does.

    Each image goes through the config's test pipeline (its loading steps replaced by the
    image itself), the model's data preprocessor and ``test_step``, and comes back as the
    8-bit RGB ``output.pred_img`` (rounded): what ``tools/test.py`` scores, as an image.
    Called like :class:`nlcl_plugin.inference.Derainer`: ``derainer(rgb)`` returns
    ``(derained, None)`` (no rain layer).

    Args:
        model (torch.nn.Module): A built MMagic model (weights loaded).
        pipeline (list[dict]): The config's test pipeline.
    """

    def __init__(self, model, pipeline):
        from mmagic.registry import TRANSFORMS
        from mmcv.transforms import Compose
        from mmengine.registry import DefaultScope
        self.model = model.eval()
        with DefaultScope.overwrite_default_scope('mmagic'):
            self.pipeline = Compose([TRANSFORMS.build(t) for t in pipeline
                                     if t['type'] not in _LOADING])

    @classmethod
    def from_config(cls, cfg, checkpoint: str, trust: bool = False) -> 'ModelDerainer':
        """Build the model of ``cfg`` (a Config) and load ``checkpoint``'s ``state_dict``
        (strictly; weights-only unless ``trust``)."""
        from mmengine.registry import DefaultScope

        from ..models.checkpoint import CheckpointError, load_state_file
        with DefaultScope.overwrite_default_scope('mmagic'):
            model = MODELS.build(cfg.model)
        state = load_state_file(checkpoint, trust)
        weights = state.get('state_dict', state)
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as err:
            raise CheckpointError(f'{checkpoint} does not fit the model of the config '
                                  f'({type(model).__name__}): {str(err).splitlines()[0]}')
        from .datasets.demo_datasets import _test_pipeline
        # the paired datasets' own default: load img and gt, pack
        pipeline = cfg.test_dataloader.dataset.get('pipeline') or _test_pipeline()
        return cls(model, pipeline)

    def __call__(self, rgb):
        import numpy as np
        import torch
        from mmengine.dataset import pseudo_collate
        results = dict(img_path='', gt_path='')
        for key in ('img', 'gt'):  # gt: a stand-in (the model's output never reads it)
            results.update({key: rgb.copy(), f'{key}_channel_order': 'rgb',
                            f'{key}_color_type': 'color', f'ori_{key}_shape': rgb.shape})
        data = pseudo_collate([self.pipeline(results)])
        with torch.no_grad():
            sample = self.model.test_step(data)[0]
        pred = sample.output.pred_img
        pred = pred.detach().cpu().numpy() if hasattr(pred, 'detach') else np.asarray(pred)
        if pred.ndim == 4:
            pred = pred[0]
        # (3, H, W) in the order of MMagic's outputs, BGR (the preprocessor's destruct
        # converts the RGB input's order back to BGR) -> (H, W, 3) RGB
        out = np.clip(pred, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)[..., ::-1]
        return np.ascontiguousarray(out), None
