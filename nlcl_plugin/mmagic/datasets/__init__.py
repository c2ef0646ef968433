"""NLCL datasets and transforms for MMagic (registered on import).

* ``UnpairedRainDataset``: rainy folder + unrelated clean folder for training
  (``gt`` is an UNPAIRED clean image);
* ``RandomCropOrPad``: an independent random crop per key, padding small images;
* ``DemoUnpairedRainDataset`` / ``DemoPairedRainDataset``: the same over the built-in
  demo data, generated on first use.
"""
from .demo_datasets import DemoPairedRainDataset, DemoUnpairedRainDataset
from .transforms import RandomCropOrPad
from .unpaired_rain_dataset import IMG_EXTENSIONS, UnpairedRainDataset, scan_images

__all__ = [
    'DemoPairedRainDataset', 'DemoUnpairedRainDataset', 'IMG_EXTENSIONS', 'RandomCropOrPad',
    'UnpairedRainDataset', 'scan_images'
]
