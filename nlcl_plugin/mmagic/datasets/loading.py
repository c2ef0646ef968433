"""``LoadRGBImage``: MMagic's image loading with safe conversions and unreadable-file handling.

MMagic's ``LoadImageFromFile`` (``mmcv.imfrombytes``, OpenCV ``IMREAD_COLOR``) turns a
16-bit image into 8 bits by dropping the low byte, turns a truncated JPEG into a
grey-filled image with only an OpenCV warning, and fails on an unreadable file with an
``AttributeError`` on ``None`` that does not name the file. ``LoadRGBImage`` reads with
:func:`nlcl_plugin.image_io.read_image` instead:

* safe conversions (grayscale, gray+alpha / RGBA with alpha dropped, palette, 16-bit
  scaled to 8-bit, EXIF orientation) happen and each *kind* is logged once per process,
  with the first file it concerned;
* an unreadable file (truncated, corrupt, empty, not an image) either raises
  :class:`~nlcl_plugin.image_io.ImageReadError` naming the file (``on_error='raise'``,
  the default: evaluation must see every image) or makes the transform return ``None``
  (``on_error='skip'``, for training): mmengine's ``BaseDataset`` then draws another
  item. Each unreadable file is logged once, by path, with a running count
  (:func:`unreadable_files` lists them).

The output matches ``LoadImageFromFile(color_type='color', channel_order='rgb')``:
``results[key]`` (H, W, 3) uint8 RGB, ``ori_{key}_shape``, ``{key}_channel_order`` and
``{key}_color_type``.
"""
from __future__ import annotations

import logging
import threading
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmagic.registry import TRANSFORMS

from ...image_io import ImageReadError, read_image

__all__ = ['LoadRGBImage', 'reset_load_statistics', 'unreadable_files']

ON_ERROR = ('raise', 'skip')

# Per process (each dataloader worker keeps its own): conversions already logged and
# unreadable files already reported.
_LOCK = threading.Lock()
_LOGGED_NOTES: Dict[str, str] = {}
_UNREADABLE: Dict[str, str] = {}


def unreadable_files() -> Dict[str, str]:
    """``{path: reason}`` of the files this process skipped as unreadable."""
    with _LOCK:
        return dict(_UNREADABLE)


def reset_load_statistics() -> None:
    """Forget the logged conversions and skipped files of this process."""
    with _LOCK:
        _LOGGED_NOTES.clear()
        _UNREADABLE.clear()


@TRANSFORMS.register_module()
class LoadRGBImage(BaseTransform):
    """Load ``results[f'{key}_path']`` as 8-bit RGB (see the module docstring).

    Required keys: ``{key}_path``.

    Added keys: ``key``, ``ori_{key}_shape``, ``{key}_channel_order`` (``'rgb'``),
    ``{key}_color_type`` (``'color'``).

    Args:
        key (str): Result key of the image, e.g. ``'img'`` or ``'gt'``.
        on_error (str): ``'raise'`` (default) or ``'skip'`` (return ``None`` so that a
            training dataset draws another item) for an unreadable file.
        exif_orientation (bool): Apply a JPEG's EXIF orientation, as
            ``LoadImageFromFile`` does. Default True.
        to_float32 (bool): Return float32 instead of uint8 (values still 0..255).
    """

    def __init__(self,
                 key: str = 'img',
                 on_error: str = 'raise',
                 exif_orientation: bool = True,
                 to_float32: bool = False) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError(f'LoadRGBImage: key must be a non-empty str, got {key!r}')
        if on_error not in ON_ERROR:
            raise ValueError(f'LoadRGBImage: on_error must be one of {ON_ERROR}, '
                             f'got {on_error!r}')
        self.key = key
        self.on_error = on_error
        self.exif_orientation = bool(exif_orientation)
        self.to_float32 = bool(to_float32)

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image; ``None`` for an unreadable file when ``on_error='skip'``."""
        path_key = f'{self.key}_path'
        if path_key not in results:
            raise KeyError(f'LoadRGBImage: {path_key!r} not in the pipeline results '
                           f'(available: {sorted(results)})')
        path = str(results[path_key])
        if self.on_error == 'skip':
            with _LOCK:
                known_bad = path in _UNREADABLE
            if known_bad:
                return None
        try:
            img, notes = read_image(path, exif_orientation=self.exif_orientation)
        except ImageReadError as err:
            if self.on_error == 'raise':
                raise
            self._report_unreadable(path, err.reason)
            return None
        for note in notes:
            self._log_note_once(note, path)
        if self.to_float32:
            img = img.astype(np.float32)
        results[self.key] = img
        results[f'ori_{self.key}_shape'] = img.shape
        results[f'{self.key}_channel_order'] = 'rgb'
        results[f'{self.key}_color_type'] = 'color'
        return results

    @staticmethod
    def _log_note_once(note: str, path: str) -> None:
        with _LOCK:
            if note in _LOGGED_NOTES:
                return
            _LOGGED_NOTES[note] = path
        print_log(f'LoadRGBImage: {note} (first file: {path}); further files of this '
                  'kind are converted the same way without a message',
                  logger='current', level=logging.INFO)

    @staticmethod
    def _report_unreadable(path: str, reason: str) -> None:
        with _LOCK:
            if path in _UNREADABLE:
                return
            _UNREADABLE[path] = reason
            count = len(_UNREADABLE)
        print_log(f'LoadRGBImage: skipped unreadable image {path}: {reason} '
                  f'({count} unreadable file(s) skipped so far in this process); '
                  'training continues with other images', logger='current',
                  level=logging.WARNING)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, on_error={self.on_error!r}, '
                f'exif_orientation={self.exif_orientation}, to_float32={self.to_float32})')
