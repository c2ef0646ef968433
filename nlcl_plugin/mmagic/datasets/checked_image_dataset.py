"""``CheckedImageDataset``: MMagic's ``BasicImageDataset`` that checks its files up front.

Evaluation must see every image of a test set, so unusable files are not skipped: when
the dataset is built, the first bytes of every listed file are checked (one small read
per file, see :func:`nlcl_plugin.image_io.sniff_image`) and missing partners, empty
files and files that are not images stop the run at once, before any model work, with
the files and the config key (``data_prefix.img`` / ``data_prefix.gt``) named. Files
that only fail when decoded (truncated, corrupt) are reported by path by
``LoadRGBImage`` (``on_error='raise'``) when they are loaded.
"""
from __future__ import annotations

from mmagic.datasets import BasicImageDataset
from mmagic.registry import DATASETS

from ...image_io import find_unusable_images, format_file_list
from .unpaired_rain_dataset import DataFolderError

__all__ = ['CheckedImageDataset']


@DATASETS.register_module()
class CheckedImageDataset(BasicImageDataset):
    """``BasicImageDataset`` (same arguments) whose files are checked when it is built.

    Args:
        check_files (bool): Check the files (default True).
        **kwargs: Passed to MMagic's ``BasicImageDataset``.

    Raises:
        DataFolderError: (a ``FileNotFoundError``) Some listed files are missing or
            cannot be images; the message names them and the config key.
    """

    def __init__(self, *args, check_files: bool = True, **kwargs) -> None:
        self.check_files = bool(check_files)
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> list:
        data_list = super().load_data_list()
        if not self.check_files:
            return data_list
        for key, prefix in self.data_prefix.items():
            bad = find_unusable_images([info[f'{key}_path'] for info in data_list
                                        if f'{key}_path' in info])
            if bad:
                name = self.metainfo.get('dataset_type', type(self).__name__)
                raise DataFolderError(
                    f'{name}: {len(bad)} unusable file(s) under {prefix} (config key '
                    f'data_prefix.{key}, data_root={self.data_root!r}): '
                    f'{format_file_list(bad)}')
        return data_list
