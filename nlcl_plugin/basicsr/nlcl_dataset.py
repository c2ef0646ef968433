"""``UnpairedRainImageDataset``: NLCL's unpaired training data for BasicSR.

.. warning::
   ``gt`` is **not** the ground truth of ``lq``: it is a *random, unrelated* clean
   photograph (NLCL's discriminator needs real clean images, not matching ones). Never
   compute PSNR/SSIM against it; validate with BasicSR's ``PairedImageDataset`` on a
   paired ``{input,target}`` split instead.

Bad files, as in the MMagic adapter: empty files and files that are not images are left
out when the dataset is built (one warning listing them); files that fail when decoded
(truncated, corrupt) are skipped at load time with a warning naming them and a running
count, and another item is drawn. Safe conversions (grayscale, RGBA, palette, 16-bit)
are logged once per kind.
"""
import logging
import os
import os.path as osp
import random
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch.utils import data as data

from basicsr.data.transforms import augment
from basicsr.utils.registry import DATASET_REGISTRY

from ..image_io import (ImageReadError, find_unusable_images, format_file_list, is_image_file,
                        read_image)

logger = logging.getLogger('basicsr')

# Items drawn in a row before an unreadable-file streak becomes an error.
MAX_RETRIES = 100

__all__ = ['UnpairedRainImageDataset', 'random_crop_or_pad', 'scan_image_folder']


def scan_image_folder(folder: str) -> List[str]:
    """Every image file under ``folder`` (recursively, hidden entries skipped), sorted.

    Extensions are those of :data:`nlcl_plugin.image_io.IMAGE_EXTENSIONS`, in any case.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        found += [osp.join(dirpath, n) for n in filenames
                  if not n.startswith('.') and is_image_file(n)]
    return sorted(found)


def random_crop_or_pad(img: np.ndarray, crop_size: Tuple[int, int]) -> np.ndarray:
    """A random ``crop_size`` window of ``img``, reflect-padding it first if it is smaller.

    The padding mirrors without repeating the border pixel (``numpy.pad(mode='reflect')``)
    with the original centred (the extra pixel goes after it); images are never
    stretched. The window position comes from Python's ``random`` module, which BasicSR
    seeds per process and per dataloader worker.

    Args:
        img (ndarray): (H, W, C) image.
        crop_size (tuple[int, int]): (crop_h, crop_w).

    Returns:
        ndarray: (crop_h, crop_w, C) contiguous crop.
    """
    ch, cw = crop_size
    h, w = img.shape[:2]
    pad_h, pad_w = max(ch - h, 0), max(cw - w, 0)
    if pad_h or pad_w:
        img = np.pad(img, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                           (0, 0)), mode='reflect')
        h, w = img.shape[:2]
    top = random.randint(0, h - ch)
    left = random.randint(0, w - cw)
    return np.ascontiguousarray(img[top:top + ch, left:left + cw])


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 RGB -> (3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@DATASET_REGISTRY.register()
class UnpairedRainImageDataset(data.Dataset):
    """A folder of rainy photos and a folder of unrelated clean photos (NLCL training).

    Item ``i`` is the rainy image ``i % n_rainy`` and a clean image drawn uniformly at
    random (Python's ``random``, seeded by BasicSR) in the ``train`` phase, or
    ``i % n_clean`` otherwise. ``len = max(n_rainy, n_clean)``. Each image gets its own
    random crop (the two are unrelated); images smaller than the crop are reflect-padded.
    Sub-folders are scanned; names need not match between the folders.

    Args:
        opt (dict): Dataset options (BasicSR passes the YAML section). Keys:

            * ``dataroot_rainy`` (str): Folder of rainy images.
            * ``dataroot_clean`` (str): Folder of clean images (unpaired).
            * ``crop_size`` (int, optional): Side of the random square crops
              (``gt_size`` is accepted as BasicSR's name for it). Without either, whole
              images are returned (use ``batch_size_per_gpu: 1`` then).
            * ``use_hflip`` / ``use_rot`` (bool, optional): BasicSR's random flips and
              rotations, drawn independently for each image. Default False.
            * ``prepare_demo`` (bool, optional): First build the built-in demo data
              (:func:`nlcl_plugin.data.demo_data.prepare_demo_data`) in the parent
              folder of ``dataroot_rainy`` (a no-op when it is up to date).
            * ``demo_layout`` (str, optional): With ``prepare_demo``, the layout of its
              training folders, ``photos`` (default) or ``same_places``.
            * ``io_backend`` (dict, optional): Only ``{type: disk}`` is supported.
            * ``phase``, ``name``: Set by BasicSR.

    Returns (per item):
        dict: ``lq`` (3, S, S) rainy and ``gt`` (3, S, S) UNPAIRED clean, float32 RGB in
        [0, 1]; ``lq_path`` and ``gt_path`` (str).

    Raises:
        KeyError: ``dataroot_rainy`` or ``dataroot_clean`` is missing.
        FileNotFoundError: A folder does not exist or holds no image (the message
            names the folder and the option key).
        ValueError: Bad ``crop_size`` or an unsupported ``io_backend``.
    """

    def __init__(self, opt: dict):
        super().__init__()
        self.opt = opt
        self.name = opt.get('name', type(self).__name__)
        for key in ('dataroot_rainy', 'dataroot_clean'):
            if not opt.get(key):
                raise KeyError(f'{type(self).__name__} ({self.name!r}): option {key!r} is '
                               'required (a folder of rainy / clean images)')
        backend = (opt.get('io_backend') or {'type': 'disk'}).get('type', 'disk')
        if backend != 'disk':
            raise ValueError(f'{type(self).__name__} ({self.name!r}): io_backend type '
                             f'{backend!r} is not supported, use disk')
        self.rainy_folder = osp.expanduser(opt['dataroot_rainy'])
        self.clean_folder = osp.expanduser(opt['dataroot_clean'])
        self.crop_size = self._parse_crop(opt.get('crop_size', opt.get('gt_size')))
        self.use_hflip = bool(opt.get('use_hflip', False))
        self.use_rot = bool(opt.get('use_rot', False))
        self.random_partner = opt.get('phase', 'train') == 'train'
        if opt.get('prepare_demo', False):
            from ..data.demo_data import prepare_demo_data
            prepare_demo_data(osp.dirname(osp.abspath(self.rainy_folder)),
                              layout=opt.get('demo_layout', 'photos'))
        self.unreadable = {}  # path -> reason, files skipped at load (per process)
        self._noted = set()  # conversion kinds already logged (per process)
        self.rainy_paths = self._scan('dataroot_rainy', self.rainy_folder)
        self.clean_paths = self._scan('dataroot_clean', self.clean_folder)

    def _parse_crop(self, size) -> Optional[Tuple[int, int]]:
        if size is None:
            return None
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f'{type(self).__name__} ({self.name!r}): crop_size must be a '
                             f'positive int, got {size!r}')
        return size, size

    def _scan(self, key: str, folder: str) -> List[str]:
        where = f'(option {key}={self.opt[key]!r} of dataset {self.name!r})'
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{type(self).__name__}: image folder '
                                    f'{osp.abspath(folder)} does not exist {where}')
        paths = scan_image_folder(folder)
        if not paths:
            raise FileNotFoundError(f'{type(self).__name__}: no images under '
                                    f'{osp.abspath(folder)} {where}')
        bad = find_unusable_images(paths)
        if bad:
            listed = format_file_list(bad)
            if len(bad) == len(paths):
                raise FileNotFoundError(f'{type(self).__name__}: none of the {len(paths)} '
                                        f'image files under {osp.abspath(folder)} is usable: '
                                        f'{listed} {where}')
            logger.warning(f'{type(self).__name__}: left out {len(bad)} unusable file(s) '
                           f'of {len(paths)}: {listed}')
            skip = {p for p, _ in bad}
            paths = [p for p in paths if p not in skip]
        return paths

    def _load(self, path: str) -> np.ndarray:
        img, notes = read_image(path, exif_orientation=True)
        for note in notes:
            if note not in self._noted:
                self._noted.add(note)
                logger.info(f'{type(self).__name__}: {note} (first file: {path}); further '
                            'files of this kind are converted the same way without a message')
        img = img.astype(np.float32) / 255.
        if self.crop_size is not None:
            img = random_crop_or_pad(img, self.crop_size)
        if self.use_hflip or self.use_rot:
            img = augment(img, self.use_hflip, self.use_rot)
        return img

    def __getitem__(self, index: int) -> dict:
        """Item ``index``; an unreadable file is skipped (logged once by path) and
        another item is drawn at random, up to :data:`MAX_RETRIES` times in a row."""
        for _ in range(MAX_RETRIES):
            rainy_path = self.rainy_paths[index % len(self.rainy_paths)]
            if self.random_partner:
                clean_path = self.clean_paths[random.randrange(len(self.clean_paths))]
            else:
                clean_path = self.clean_paths[index % len(self.clean_paths)]
            try:
                return {
                    'lq': _to_tensor(self._load(rainy_path)),
                    'gt': _to_tensor(self._load(clean_path)),
                    'lq_path': rainy_path,
                    'gt_path': clean_path,
                }
            except ImageReadError as err:
                if err.path not in self.unreadable:
                    self.unreadable[err.path] = err.reason
                    logger.warning(f'{type(self).__name__}: skipped unreadable image '
                                   f'{err.path}: {err.reason} ({len(self.unreadable)} '
                                   'unreadable file(s) skipped so far in this process)')
                index = random.randrange(len(self))
        listed = format_file_list(sorted(self.unreadable.items()))
        raise RuntimeError(f'{type(self).__name__} ({self.name!r}): no readable image pair '
                           f'after {MAX_RETRIES} tries; unreadable files: {listed}')

    def __len__(self) -> int:
        return max(len(self.rainy_paths), len(self.clean_paths))
