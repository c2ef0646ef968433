"""Datasets over the built-in demo data, which they generate on first use.

``DemoUnpairedRainDataset`` and ``DemoPairedRainDataset`` behave exactly like
``UnpairedRainDataset`` and ``CheckedImageDataset`` (MMagic's ``BasicImageDataset``
with its files checked up front), but first call
:func:`nlcl_plugin.data.prepare_demo_data` (instant when the data is already there), so
``configs/nlcl_demo.py`` runs on a fresh checkout with nothing downloaded.
"""
from __future__ import annotations

import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

from mmagic.registry import DATASETS

from ...data.demo_data import DEFAULT_SEED, prepare_demo_data
from .checked_image_dataset import CheckedImageDataset
from .unpaired_rain_dataset import UnpairedRainDataset

__all__ = ['DemoPairedRainDataset', 'DemoUnpairedRainDataset']


def _test_pipeline() -> List[dict]:
    return [dict(type='LoadRGBImage', key='img'), dict(type='LoadRGBImage', key='gt'),
            dict(type='PackInputs')]


@DATASETS.register_module()
class DemoUnpairedRainDataset(UnpairedRainDataset):
    """``UnpairedRainDataset`` over the demo data's ``train_rainy`` / ``train_clean``.

    Args:
        data_root (str): Demo data folder (built there if missing or out of date).
            Defaults to ``'data/nlcl_demo'``.
        demo_seed (int): Master seed of the demo data.
        demo_layout (str): How its training folders are drawn: ``'photos'`` or
            ``'same_places'`` (:data:`nlcl_plugin.data.demo_data.LAYOUTS`).
        **kwargs: Passed to :class:`UnpairedRainDataset`.
    """

    METAINFO = dict(dataset_type='nlcl_demo', task_name='deraining')

    def __init__(self, data_root: str = 'data/nlcl_demo', demo_seed: int = DEFAULT_SEED,
                 demo_layout: str = 'photos', **kwargs) -> None:
        prepare_demo_data(data_root, seed=demo_seed, layout=demo_layout)
        super().__init__(data_root=data_root, **kwargs)


@DATASETS.register_module()
class DemoPairedRainDataset(CheckedImageDataset):
    """``CheckedImageDataset`` (MMagic's ``BasicImageDataset``) over the demo data's
    paired ``test`` split.

    Args:
        data_root (str): The demo test folder ``<demo root>/test``. Defaults to
            ``'data/nlcl_demo/test'``.
        data_prefix (dict): Defaults to ``dict(img='input', gt='target')``.
        pipeline (list, optional): Defaults to ``LoadRGBImage`` for ``img`` and ``gt``
            and ``PackInputs``.
        demo_root (str, optional): The demo data folder to build; defaults to the parent
            of ``data_root`` (which must then be named ``test``).
        demo_seed (int): Master seed of the demo data.
        demo_layout (str): The layout of its training folders (the test split is the
            same under every layout).
        **kwargs: Passed to ``CheckedImageDataset``.

    Raises:
        ValueError: ``demo_root`` is not given and ``data_root`` is not ``.../test``.
    """

    METAINFO = dict(dataset_type='nlcl_demo', task_name='deraining')

    def __init__(self,
                 data_root: str = 'data/nlcl_demo/test',
                 data_prefix: Optional[dict] = None,
                 pipeline: Optional[Sequence[Union[dict, Callable]]] = None,
                 demo_root: Optional[str] = None,
                 demo_seed: int = DEFAULT_SEED,
                 demo_layout: str = 'photos',
                 **kwargs) -> None:
        if demo_root is None:
            norm = osp.normpath(str(data_root))
            if osp.basename(norm) != 'test':
                raise ValueError(
                    f'{type(self).__name__}: data_root={data_root!r} is not the demo test '
                    "folder '<demo root>/test'; set the config key demo_root to the demo "
                    'data folder')
            demo_root = osp.dirname(norm)
        prepare_demo_data(demo_root, seed=demo_seed, layout=demo_layout)
        super().__init__(
            data_root=data_root,
            data_prefix=dict(data_prefix or dict(img='input', gt='target')),
            pipeline=list(pipeline) if pipeline is not None else _test_pipeline(),
            **kwargs)
