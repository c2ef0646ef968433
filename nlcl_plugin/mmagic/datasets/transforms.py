"""``RandomCropOrPad``: an independent random crop per key, for unpaired images.

MMagic's ``PairedRandomCrop`` cuts the *same* window out of aligned images. In NLCL's
unpaired training the rainy image and the clean image are unrelated photographs, so each
key gets its own random window here.

Images smaller than the crop are never stretched:

* ``pad_mode='reflect'`` (default): reflect-pad (mirror without repeating the border
  pixel, i.e. ``numpy.pad(mode='reflect')`` / ``cv2.BORDER_REFLECT_101``) up to the crop
  size, the original centred (extra pixel after it when the padding is odd), then crop.
  Padding wider than the image keeps mirroring back and forth (a 2-pixel row ``ab``
  becomes ``...babab...``); an axis of a single pixel cannot be mirrored and is
  replicated instead (numpy's behaviour), so even a 1x1 image gives a valid crop;
* ``pad_mode='resize'``: upscale keeping the aspect ratio until the short side covers
  the crop (bicubic), then crop.

A crop larger than *every* image of the data is therefore allowed (it pads every image);
the first padded image is logged once per process so that the case does not go
unnoticed.
"""
from __future__ import annotations

import logging
import math
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmagic.registry import TRANSFORMS

__all__ = ['RandomCropOrPad']

PAD_MODES = ('reflect', 'resize')

_padding_logged = False  # per process: the first padded image is logged


def _log_padding_once(h: int, w: int, crop: Tuple[int, int], mode: str) -> None:
    global _padding_logged
    if _padding_logged:
        return
    _padding_logged = True
    how = 'reflect-padded' if mode == 'reflect' else 'upscaled'
    print_log(f'RandomCropOrPad: an image of {h}x{w} is smaller than the crop '
              f'{crop[0]}x{crop[1]} and is {how} (pad_mode={mode!r}); further small '
              'images are handled the same way without a message', logger='current',
              level=logging.INFO)


def _as_three_channels(img: np.ndarray, key: str) -> np.ndarray:
    """(H, W) or (H, W, 1) -> (H, W, 3); (H, W, 3) unchanged; anything else raises."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f'RandomCropOrPad: results[{key!r}] must be a numpy image, '
                        f'got {type(img).__name__}')
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f'RandomCropOrPad: results[{key!r}] must have shape (H, W), '
                         f'(H, W, 1) or (H, W, 3), got {img.shape}')
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img


@TRANSFORMS.register_module()
class RandomCropOrPad(BaseTransform):
    """Crop each key independently at a random position, padding small images first.

    Randomness comes from numpy's global generator, which mmengine seeds per process
    and per dataloader worker (``randomness=dict(seed=...)``), so crops are
    reproducible for a given seed.

    Required keys: ``keys``.

    Modified keys: ``keys`` (now (crop_h, crop_w, 3); grayscale (H, W) / (H, W, 1)
    images become 3-channel).

    Added keys, for each ``key``: ``{key}_crop_bbox`` = ``[x, y, w, h]`` (MMagic's
    convention) in the padded / resized image, ``{key}_pad`` = ``[[top, bottom], [left,
    right]]`` reflect padding (zeros when none), ``{key}_resize_scale`` (1.0 unless
    ``pad_mode='resize'`` enlarged the image); and ``crop_size`` = ``(crop_h, crop_w)``.

    Args:
        keys (str | list[str]): Result keys of the images to crop, e.g. ``['img', 'gt']``.
        crop_size (int | tuple[int, int]): Output size ``s`` (square) or ``(h, w)``.
        pad_mode (str): What to do with images smaller than the crop: ``'reflect'``
            (reflect-pad, default) or ``'resize'`` (aspect-preserving upscale).
    """

    def __init__(self,
                 keys: Union[str, Sequence[str]] = ('img', ),
                 crop_size: Union[int, Tuple[int, int]] = 256,
                 pad_mode: str = 'reflect') -> None:
        if isinstance(keys, str):
            keys = [keys]
        keys = list(keys)
        if not keys or not all(isinstance(k, str) for k in keys):
            raise ValueError(f'RandomCropOrPad: keys must be a non-empty list of str, got {keys!r}')
        if isinstance(crop_size, (int, np.integer)) and not isinstance(crop_size, bool):
            crop_size = (int(crop_size), int(crop_size))
        if (not isinstance(crop_size, (tuple, list)) or len(crop_size) != 2
                or not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool)
                           and c > 0 for c in crop_size)):
            raise ValueError('RandomCropOrPad: crop_size must be a positive int or a pair '
                             f'(h, w) of positive ints, got {crop_size!r}')
        if pad_mode not in PAD_MODES:
            raise ValueError(f'RandomCropOrPad: pad_mode must be one of {PAD_MODES}, '
                             f'got {pad_mode!r}')
        self.keys: List[str] = keys
        self.crop_size: Tuple[int, int] = (int(crop_size[0]), int(crop_size[1]))
        self.pad_mode = pad_mode

    def _fit(self, img: np.ndarray) -> Tuple[np.ndarray, List[List[int]], float]:
        """Make ``img`` at least the crop size; return (image, padding, scale)."""
        ch, cw = self.crop_size
        h, w = img.shape[:2]
        if h >= ch and w >= cw:
            return img, [[0, 0], [0, 0]], 1.0
        _log_padding_once(h, w, self.crop_size, self.pad_mode)
        if self.pad_mode == 'resize':
            scale = max(ch / h, cw / w)
            # the 1e-6 keeps float noise (40 * 1.6 = 64.00000000000001) from adding a pixel
            new_h = max(ch, math.ceil(h * scale - 1e-6))
            new_w = max(cw, math.ceil(w * scale - 1e-6))
            resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_CUBIC)
            return resized, [[0, 0], [0, 0]], float(scale)
        pad_h, pad_w = max(0, ch - h), max(0, cw - w)
        pad = [[pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2]]
        # numpy reflects repeatedly when the padding exceeds the image size and
        # replicates an axis of length 1 (which has nothing to mirror)
        return np.pad(img, (pad[0], pad[1], (0, 0)), mode='reflect'), pad, 1.0

    def transform(self, results: Dict) -> Dict:
        """Crop every key of ``results`` (see the class docstring).

        Args:
            results (dict): Pipeline results holding the images under ``keys``
                (each (H, W), (H, W, 1) or (H, W, 3)).

        Returns:
            dict: ``results`` with each key replaced by its (crop_h, crop_w, 3) crop.
        """
        ch, cw = self.crop_size
        for key in self.keys:
            if key not in results:
                raise KeyError(f'RandomCropOrPad: key {key!r} not in the pipeline results '
                               f'(available: {sorted(results)}); load it first, e.g. '
                               f"LoadImageFromFile(key={key!r})")
            img, pad, scale = self._fit(_as_three_channels(results[key], key))
            h, w = img.shape[:2]
            top = int(np.random.randint(0, h - ch + 1))
            left = int(np.random.randint(0, w - cw + 1))
            results[key] = np.ascontiguousarray(img[top:top + ch, left:left + cw])
            results[f'{key}_crop_bbox'] = [left, top, cw, ch]
            results[f'{key}_pad'] = pad
            results[f'{key}_resize_scale'] = scale
        results['crop_size'] = self.crop_size
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(keys={self.keys}, crop_size={self.crop_size}, '
                f'pad_mode={self.pad_mode!r})')
