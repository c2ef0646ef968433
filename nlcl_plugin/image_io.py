"""Reading and writing images for training, inference and data preparation, with clear errors.

Every image becomes 8-bit RGB (H, W, 3). Safe conversions are applied and reported as
notes (short fixed strings, so callers can log each kind once):

* grayscale -> RGB (the gray value repeated);
* gray+alpha and RGBA -> RGB by dropping alpha (the stored colour values are kept; no
  compositing, which would invent a background colour);
* palette (indexed) -> RGB through the palette (done by the decoder, no note);
* 16-bit -> 8-bit by scaling (``round(v / 257)``, so 65535 -> 255; never truncation);
* floating point in [0, 1] -> 8-bit;
* with ``exif_orientation=True``, a JPEG's EXIF orientation is applied (as OpenCV's
  ``IMREAD_COLOR`` and MMagic's ``LoadImageFromFile`` do).

Unreadable files (missing, empty, truncated, corrupt, not an image) raise
:class:`ImageReadError` naming the file. :func:`sniff_image` is a cheap check (the first
bytes only) used when datasets are built, so hopeless files are reported up front.
"""
import collections
import glob
import io
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'IMAGE_EXTENSIONS', 'ImageReadError', 'collect_inputs', 'find_unusable_images',
    'format_file_list', 'is_image_file', 'read_image', 'sniff_image', 'write_image'
]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


class ImageReadError(ValueError):
    """An image file is missing, truncated, corrupt or not an image.

    ``ImageReadError(path, reason)``; ``str(err)`` is ``'<path>: <reason>'``. A single
    argument is taken as the whole message (how PyTorch's DataLoader re-raises an error
    from a worker process), so the type survives worker processes.
    """

    def __init__(self, path: str, reason: Optional[str] = None):
        if reason is None:
            super().__init__(path)
            self.path, self.reason = '', path
        else:
            super().__init__(f'{path}: {reason}')
            self.path, self.reason = path, reason

    def __reduce__(self):
        return type(self), ((self.path, self.reason) if self.path else (self.reason, ))


def is_image_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


# First bytes of the formats OpenCV decodes (the extensions above and a few more).
_SIGNATURES = (
    b'\x89PNG\r\n\x1a\n', b'\xff\xd8\xff', b'BM', b'II*\x00', b'MM\x00*', b'II+\x00',
    b'MM\x00+', b'GIF87a', b'GIF89a', b'\x00\x00\x00\x0cjP  ', b'\xff\x4f\xff\x51',
    b'v/1\x01', b'#?RADIANCE', b'#?RGBE', b'\x59\xa6\x6a\x95', b'Pf', b'PF')


def sniff_image(path: str) -> Optional[str]:
    """Why ``path`` cannot be an image, judged from its first bytes; None if it may be one.

    Cheap (one small read): catches missing, unreadable and empty files and files whose
    content is not an image format (text, HTML, archives...). Truncated or corrupt
    images pass and are caught by :func:`read_image`.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(16)
    except OSError as err:
        return f'cannot open ({err.strerror or err})'
    if not head:
        return 'empty file'
    if head.startswith(_SIGNATURES):
        return None
    if head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        return None
    if head[:1] == b'P' and head[1:2] in b'1234567' and len(head) > 2:  # PBM/PGM/PPM/PAM
        return None
    if head[4:8] == b'ftyp':  # AVIF / HEIF containers
        return None
    return 'not an image (unrecognised file content)'


def find_unusable_images(paths: Sequence[str]) -> List[Tuple[str, str]]:
    """``(path, reason)`` of the local files that cannot be images (cheap check: the
    first bytes of each file, see :func:`sniff_image`)."""
    bad = []
    for path in paths:
        if '://' in str(path):  # remote storage: left to the loader
            continue
        reason = sniff_image(path)
        if reason is not None:
            bad.append((str(path), reason))
    return bad


def format_file_list(items: Sequence[Tuple[str, str]], at_most: int = 10) -> str:
    """'a.png (empty file), b.jpg (...)' with at most ``at_most`` entries."""
    shown = ', '.join(f'{p} ({why})' for p, why in items[:at_most])
    more = len(items) - at_most
    return shown + (f' and {more} more' if more > 0 else '')


def _check_jpeg(path: str, data: bytes) -> int:
    """Fully decode a JPEG with PIL (OpenCV turns a truncated JPEG into a grey-filled
    image with only a warning); returns its EXIF orientation (1 when none)."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            try:
                orientation = int(im.getexif().get(0x0112, 1))
            except Exception:  # malformed EXIF is not worth rejecting the image
                orientation = 1
    except Exception as err:  # PIL raises OSError('image file is truncated ...') and others
        raise ImageReadError(path, f'corrupt or truncated JPEG ({err})') from err
    return orientation if 1 <= orientation <= 8 else 1


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels into displayed pixels for EXIF orientation 1..8."""
    if orientation in (5, 6, 7, 8):
        img = img.swapaxes(0, 1)  # transpose; the flips below finish each case
    flip_rows = orientation in (3, 4, 7, 8)
    flip_cols = orientation in (2, 3, 6, 7)
    if flip_rows:
        img = img[::-1]
    if flip_cols:
        img = img[:, ::-1]
    return img


def read_image(path: str, exif_orientation: bool = False) -> Tuple[np.ndarray, List[str]]:
    """Read ``path`` as 8-bit RGB.

    Args:
        path (str): Image file.
        exif_orientation (bool): Apply a JPEG's EXIF orientation (as displayed by image
            viewers and by OpenCV's ``IMREAD_COLOR``). Off by default: the output then
            has the stored size.

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
    notes = []
    if data[:2] == b'\xff\xd8':
        orientation = _check_jpeg(path, data)
        if exif_orientation and orientation != 1:
            img = np.ascontiguousarray(_apply_orientation(img, orientation))
            notes.append('EXIF orientation applied')
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


def collect_inputs(inputs):
    """Expand files, folders and globs (image files of folders, searched recursively).

    Returns:
        tuple: (files, problems, passed_over): the files to read, ``(input, why)`` for
        inputs that gave nothing, and a Counter ``extension -> number of files`` found in
        folders and passed over for their extension (``''`` for files without one).
    """
    files, problems = [], []
    passed_over = collections.Counter()
    for item in inputs:
        if osp.isdir(item):
            found = []
            for root, _, names in os.walk(item):
                for name in names:
                    if is_image_file(name):
                        found.append(osp.join(root, name))
                    else:
                        passed_over[osp.splitext(name)[1].lower()] += 1
            found.sort()
            if not found:
                problems.append((item, 'folder contains no image files'))
            files += found
        elif osp.isfile(item):
            files.append(item)
        else:
            matched = sorted(glob.glob(item, recursive=True))
            matched = [m for m in matched if osp.isfile(m)]
            if not matched:
                problems.append((item, 'no such file, folder or matching glob'))
            files += matched
    seen, unique = set(), []
    for f in files:
        key = osp.abspath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems, passed_over
