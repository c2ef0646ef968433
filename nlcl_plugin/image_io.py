"""Reading and writing images for inference and data preparation, with clear errors.

Every image becomes 8-bit RGB (H, W, 3). Safe conversions (grayscale, gray+alpha, RGBA,
16-bit, float) are applied and reported as notes; unreadable files raise
:class:`ImageReadError` naming the file.
"""
import io
import os
from typing import List, Tuple

import cv2
import numpy as np

__all__ = ['IMAGE_EXTENSIONS', 'ImageReadError', 'read_image', 'write_image', 'is_image_file']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


class ImageReadError(ValueError):
    """An image file is missing, truncated, corrupt or not an image."""

    def __init__(self, path: str, reason: str):
        super().__init__(f'{path}: {reason}')
        self.path = path
        self.reason = reason


def is_image_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _check_jpeg_complete(path: str, data: bytes) -> None:
    # OpenCV decodes a truncated JPEG into a grey-filled image with only a warning.
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as err:  # PIL raises OSError('image file is truncated ...') and others
        raise ImageReadError(path, f'corrupt or truncated JPEG ({err})') from err


def read_image(path: str) -> Tuple[np.ndarray, List[str]]:
    """Read ``path`` as 8-bit RGB.

    Returns:
        tuple: (uint8 array (H, W, 3) in RGB order, list of conversion notes such as
        ``'16-bit converted to 8-bit'``; empty when the file was already 8-bit RGB).

    Raises:
        ImageReadError: The file is missing, empty, truncated or not a decodable image.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise ImageReadError(path, f'cannot open ({err.strerror or err})') from err
    if not data:
        raise ImageReadError(path, 'empty file')
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageReadError(path, 'not a decodable image (corrupt, truncated or unsupported format)')
    if data[:2] == b'\xff\xd8':
        _check_jpeg_complete(path, data)
    notes = []
    if img.dtype == np.uint16:
        img = np.round(img.astype(np.float32) / 257.0).astype(np.uint8)
        notes.append('16-bit converted to 8-bit')
    elif img.dtype in (np.float32, np.float64):
        img = np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
        notes.append('floating-point image scaled from [0, 1] to 8-bit')
    elif img.dtype != np.uint8:
        raise ImageReadError(path, f'unsupported pixel type {img.dtype}')
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        notes.append('grayscale converted to RGB')
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2)), notes
    channels = img.shape[2]
    if channels == 2:
        notes.append('grayscale+alpha converted to RGB (alpha dropped)')
        return np.ascontiguousarray(np.repeat(img[:, :, :1], 3, axis=2)), notes
    if channels == 4:
        notes.append('RGBA converted to RGB (alpha dropped)')
        img = img[:, :, :3]
    elif channels != 3:
        raise ImageReadError(path, f'unsupported number of channels: {channels}')
    return np.ascontiguousarray(img[:, :, ::-1]), notes


def write_image(path: str, rgb: np.ndarray) -> None:
    """Write an 8-bit RGB (H, W, 3) array atomically (temporary file, then rename)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ext = os.path.splitext(path)[1] or '.png'
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise OSError(f'cannot encode image for {path}')
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(buf.tobytes())
    os.replace(tmp, path)
