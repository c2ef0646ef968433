"""``UnpairedRainDataset``: a folder of rainy photos and a folder of unrelated clean ones.

.. warning::
   ``gt`` is **not** the ground truth of ``img``. In training each rainy image is
   paired with a *random, unrelated* clean image (NLCL's discriminator needs real clean
   images, not matching ones). ``data_samples.gt_img`` after ``PackInputs`` is that
   unpaired clean image: never compute PSNR/SSIM against it. Paired evaluation uses
   MMagic's ``BasicImageDataset`` with ``data_prefix=dict(img='input', gt='target')``.

Why not MMagic's ``UnpairedImageDataset``: it hard-codes ``trainA`` / ``trainB``
folder names, emits ``img_A_path`` / ``img_B_path`` (so configs need a ``KeyMapper``),
and asserts instead of naming the config key when a folder is empty.

Unusable files: when the dataset is built, every file's first bytes are checked
(:func:`nlcl_plugin.image_io.sniff_image`, one small read per file); empty files and
files that are not images are left out and listed in one warning. Files that only fail
when decoded (truncated, corrupt) are skipped at load time by ``LoadRGBImage(...,
on_error='skip')``, which logs each by path with a running count; mmengine's
``BaseDataset`` then draws another item, and training continues.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmagic.registry import DATASETS

from ...image_io import find_unusable_images, format_file_list

__all__ = [
    'DataFolderError', 'IMG_EXTENSIONS', 'UnpairedRainDataset', 'find_unusable_images',
    'scan_images'
]

#: Image file extensions (matched case-insensitively).
IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')

class DataFolderError(FileNotFoundError):
    """A data folder is missing, holds no usable image, or holds unusable files that
    must not be skipped (evaluation). The message names the folder or files and the
    config key."""


def _other_files(folder: str, suffixes: Sequence[str]) -> List[str]:
    """Extensions of the files under ``folder`` that are not images, for error messages."""
    suffixes = tuple(s.lower() for s in suffixes)
    exts = set()
    for _, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        for name in filenames:
            ext = osp.splitext(name)[1].lower()
            if not name.startswith('.') and ext not in suffixes:
                exts.add(ext or '(no extension)')
    return sorted(exts)


def scan_images(folder: str, suffixes: Sequence[str] = IMG_EXTENSIONS) -> List[str]:
    """All image files under ``folder``, recursively, sorted.

    Extensions match case-insensitively; hidden files and folders (name starting with
    ``.``) are skipped. Symbolic links to folders are followed.

    Args:
        folder (str): Folder to scan.
        suffixes (Sequence[str]): Extensions to keep, with the dot.

    Returns:
        list[str]: Paths (``folder`` joined with the relative path), sorted.
    """
    suffixes = tuple(s.lower() for s in suffixes)
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        for name in filenames:
            if not name.startswith('.') and osp.splitext(name)[1].lower() in suffixes:
                found.append(osp.join(dirpath, name))
    return sorted(found)


@DATASETS.register_module()
class UnpairedRainDataset(BaseDataset):
    """Unpaired rainy / clean image folders for NLCL training.

    Layout (names need not match between the two folders; sub-folders are scanned)::

        data_root/
            train_rainy/  *.png|jpg|jpeg|bmp|tif|tiff|webp   (data_prefix.rainy)
            train_clean/  ...                                (data_prefix.clean)

    Item ``i`` holds the rainy image ``i % n_rainy`` as ``img_path`` and a clean image as
    ``gt_path``: drawn uniformly at random with numpy's global generator in training
    (mmengine seeds it per worker, so the pairing is reproducible with
    ``randomness=dict(seed=...)`` and changes from epoch to epoch), or ``i % n_clean``
    in ``test_mode``. ``len(dataset) = max(n_rainy, n_clean)``. The standard pipeline
    ``LoadRGBImage(key='img')``, ``LoadRGBImage(key='gt')``,
    ``RandomCropOrPad(keys=['img', 'gt'])``, ``PackInputs()`` then gives
    ``inputs`` = rainy (3, H, W) and ``data_samples.gt_img`` = the UNPAIRED clean image.

    Each data info also has ``key`` (the rainy path relative to its folder, without
    extension), ``clean_key`` and ``sample_idx``.

    Args:
        data_root (str): Root folder; relative ``data_prefix`` values are joined to it.
        data_prefix (dict): ``dict(rainy=..., clean=...)`` folder of each domain.
            Defaults to ``dict(rainy='train_rainy', clean='train_clean')``.
        pipeline (list[dict | callable]): Data transforms.
        test_mode (bool): Deterministic clean partner (``i % n_clean``).
        metainfo (dict, optional): Extra meta information.
        img_suffix (Sequence[str]): Image extensions (case-insensitive).
        serialize_data (bool): Hold the file list as one numpy buffer shared by
            dataloader workers (mmengine's ``BaseDataset`` option).
        lazy_init (bool): Defer scanning the folders until first use. With the
            default ``False`` a missing or empty folder fails when the dataset is
            built, before training starts.
        indices (int | Sequence[int], optional): Keep only these items.
        max_refetch (int): mmengine's retry count when a pipeline returns ``None`` (an
            unreadable file with ``LoadRGBImage(on_error='skip')``).
        check_files (bool): Check every file's first bytes when the dataset is built
            and leave out (with one warning listing them) empty files and files that
            are not images. Default True.

    Raises:
        KeyError: ``data_prefix`` lacks ``rainy`` or ``clean``.
        DataFolderError: (a ``FileNotFoundError``) A folder is missing or holds no
            usable image; the message names the folder and the config key
            (``data_prefix.rainy`` / ``data_prefix.clean``).
    """

    METAINFO = dict(dataset_type='unpaired_rain', task_name='deraining')
    DOMAINS = ('rainy', 'clean')

    def __init__(self,
                 data_root: str = '',
                 data_prefix: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 img_suffix: Sequence[str] = IMG_EXTENSIONS,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 max_refetch: int = 1000,
                 check_files: bool = True) -> None:
        if data_prefix is None:
            data_prefix = dict(rainy='train_rainy', clean='train_clean')
        missing = [k for k in self.DOMAINS if k not in data_prefix]
        if missing:
            raise KeyError(f'{type(self).__name__}: data_prefix must have the keys '
                           f'{self.DOMAINS}, missing {missing} (got data_prefix='
                           f'{dict(data_prefix)!r})')
        self._raw_prefix = dict(data_prefix)
        self.img_suffix = tuple(img_suffix)
        self.check_files = bool(check_files)
        self.unusable_files: List[Tuple[str, str]] = []
        self._clean_paths = np.array([], dtype=str)
        self._clean_keys = np.array([], dtype=str)
        self.num_rainy = 0
        self.num_clean = 0
        super().__init__(
            data_root=data_root,
            data_prefix=dict(data_prefix),
            pipeline=list(pipeline),
            test_mode=test_mode,
            metainfo=metainfo,
            serialize_data=serialize_data,
            lazy_init=lazy_init,
            indices=indices,
            max_refetch=max_refetch)

    def _scan_domain(self, domain: str) -> List[str]:
        folder = self.data_prefix[domain]
        where = (f'(config key data_prefix.{domain}={self._raw_prefix[domain]!r}, '
                 f'data_root={self.data_root!r})')
        if not osp.isdir(folder):
            raise DataFolderError(f'{type(self).__name__}: the {domain} image folder '
                                  f'{osp.abspath(folder)} does not exist {where}')
        paths = scan_images(folder, self.img_suffix)
        if not paths:
            others = _other_files(folder, self.img_suffix)
            found = (f'; it holds only files with other extensions ({", ".join(others)})'
                     if others else '')
            raise DataFolderError(
                f'{type(self).__name__}: no {domain} images '
                f'({", ".join(self.img_suffix)}, any case) under {osp.abspath(folder)}'
                f'{found} {where}')
        if self.check_files:
            bad = find_unusable_images(paths)
            if bad:
                self.unusable_files += bad
                if len(bad) == len(paths):
                    raise DataFolderError(
                        f'{type(self).__name__}: none of the {len(paths)} {domain} '
                        f'image files under {osp.abspath(folder)} is usable: '
                        f'{format_file_list(bad)} {where}')
                print_log(
                    f'{type(self).__name__}: left out {len(bad)} unusable {domain} '
                    f'file(s) of {len(paths)}: {format_file_list(bad)}',
                    logger='current', level=logging.WARNING)
                skip = {p for p, _ in bad}
                paths = [p for p in paths if p not in skip]
        return paths

    @staticmethod
    def _key(path: str, folder: str) -> str:
        return osp.splitext(osp.relpath(path, folder))[0]

    def load_data_list(self) -> List[dict]:
        """Scan both folders; one entry per item (``max(n_rainy, n_clean)`` entries).

        Returns:
            list[dict]: ``dict(img_path, key)`` per item, plus ``gt_path`` and
            ``clean_key`` in ``test_mode``.
        """
        rainy = self._scan_domain('rainy')
        clean = self._scan_domain('clean')
        self.num_rainy, self.num_clean = len(rainy), len(clean)
        clean_folder = self.data_prefix['clean']
        # numpy string arrays: no per-object refcounts touched in dataloader workers
        self._clean_paths = np.array(clean)
        self._clean_keys = np.array([self._key(p, clean_folder) for p in clean])
        rainy_folder = self.data_prefix['rainy']
        data_list = []
        for i in range(max(len(rainy), len(clean))):
            path = rainy[i % len(rainy)]
            info = dict(img_path=path, key=self._key(path, rainy_folder))
            if self.test_mode:
                j = i % len(clean)
                info.update(gt_path=clean[j], clean_key=str(self._clean_keys[j]))
            data_list.append(info)
        return data_list

    def __getitem__(self, idx: int) -> dict:
        """As ``BaseDataset.__getitem__``; when every retry met an unreadable file, the
        error lists the files skipped in this process."""
        try:
            return super().__getitem__(idx)
        except Exception as err:
            if self.test_mode or not str(err).startswith('Cannot find valid image'):
                raise
            from .loading import unreadable_files
            bad = sorted(unreadable_files().items())
            raise RuntimeError(
                f'{type(self).__name__}: no readable rainy/clean pair after '
                f'{self.max_refetch} retries; unreadable files skipped in this process: '
                f'{format_file_list(bad) if bad else "none (check the pipeline)"}') from err

    def get_data_info(self, idx: int) -> dict:
        """The ``idx``-th item: its rainy path and a clean partner path.

        Args:
            idx (int): Item index.

        Returns:
            dict: ``img_path`` (rainy), ``gt_path`` (clean, UNPAIRED), ``key``,
            ``clean_key`` and ``sample_idx``.
        """
        info = super().get_data_info(idx)
        if 'gt_path' not in info:
            j = int(np.random.randint(0, len(self._clean_paths)))
            info['gt_path'] = str(self._clean_paths[j])
            info['clean_key'] = str(self._clean_keys[j])
        return info
