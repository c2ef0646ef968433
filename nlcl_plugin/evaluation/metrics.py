"""PSNR and SSIM on the Y channel, with MMagic's functions, of two 8-bit RGB images."""
from typing import Tuple

__all__ = ['y_metrics']


def y_metrics(pred, clean) -> Tuple[float, float]:
    """PSNR and SSIM on the Y channel (MMagic's functions) of two uint8 RGB images."""
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.evaluation.metrics.ssim import ssim
    kw = dict(crop_border=0, input_order='HWC', convert_to='Y', channel_order='rgb')
    return float(psnr(pred, clean, **kw)), float(ssim(pred, clean, **kw))
