"""NLCL datasets and transforms for MMagic (registered on import).

* ``UnpairedRainDataset``: rainy folder + unrelated clean folder for training
  (``gt`` is an UNPAIRED clean image); unusable files are left out or skipped;
* ``CheckedImageDataset``: MMagic's ``BasicImageDataset`` whose files are checked when
  it is built (evaluation sets);
* ``LoadRGBImage``: image loading with safe conversions, logged once per kind, and
  unreadable files raised or skipped by path;
* ``RandomCropOrPad``: an independent random crop per key, padding small images;
* ``DemoUnpairedRainDataset`` / ``DemoPairedRainDataset``: the same over the built-in
  demo data, generated on first use.
"""
from .checked_image_dataset import CheckedImageDataset
from .demo_datasets import DemoPairedRainDataset, DemoUnpairedRainDataset
from .loading import LoadRGBImage, reset_load_statistics, unreadable_files
from .transforms import RandomCropOrPad
from .unpaired_rain_dataset import (IMG_EXTENSIONS, DataFolderError, UnpairedRainDataset,
                                    find_unusable_images, scan_images)

__all__ = [
    'CheckedImageDataset', 'DataFolderError', 'DemoPairedRainDataset',
    'DemoUnpairedRainDataset', 'IMG_EXTENSIONS', 'LoadRGBImage', 'RandomCropOrPad',
    'UnpairedRainDataset', 'find_unusable_images', 'reset_load_statistics', 'scan_images',
    'unreadable_files'
]
