"""``MultiSetConcatVisualizer``: MMagic's concatenating visualiser, one name per test set.

MMagic's ``ConcatImageVisualizer`` names each picture after the input file's basename
(cut at its first dot) and the iteration. Deraining test sets reuse file names
(``Rain100L/input/1.png`` and ``Rain100H/input/1.png``), so the pictures of one set
overwrite the other's. The evaluation loops of this package
(``AvailableSetsTestLoop`` / ``AvailableSetsValLoop``) set :attr:`set_name` before each
set; pictures are then saved as ``<set>_<stem>_<iter>.png`` (dots in the stem become
underscores, so ``a.b.png`` and ``a.c.png`` stay apart as well).
"""
import os.path as osp
from typing import Optional, Sequence

from mmagic.registry import VISUALIZERS
from mmagic.structures import DataSample
from mmagic.visualization import ConcatImageVisualizer

__all__ = ['MultiSetConcatVisualizer']


@VISUALIZERS.register_module()
class MultiSetConcatVisualizer(ConcatImageVisualizer):
    """``ConcatImageVisualizer`` whose file names carry the test set's name.

    Args:
        fn_key (str): Data-sample key of the file name (``'img_path'``).
        img_keys (Sequence[str]): Images to concatenate, left to right.
        pixel_range (dict, optional): Value range per key (MMagic's meaning).
        bgr2rgb (bool): Swap channels before saving.
        name (str): Instance name (mmengine's visualisers are named singletons).
        *args, **kwargs: Passed on (``vis_backends``, ``save_dir``, ...).

    Attributes:
        set_name (str, optional): Prefix of the next pictures' names; ``None`` outside
            the multi-set loops (then names are MMagic's, apart from the dots).
    """

    def __init__(self,
                 fn_key: str,
                 img_keys: Sequence[str],
                 pixel_range: Optional[dict] = None,
                 bgr2rgb: bool = False,
                 name: str = 'visualizer',
                 *args,
                 **kwargs) -> None:
        super().__init__(fn_key, img_keys, pixel_range or {}, bgr2rgb, name, *args, **kwargs)
        self.set_name: Optional[str] = None

    def add_datasample(self, data_sample: DataSample, step=0) -> None:
        """Draw ``data_sample`` under ``<set>_<stem>`` (see the module docstring)."""
        fn = data_sample.get(self.fn_key)
        if fn is None and 'output' in data_sample:
            fn = data_sample.output.get(self.fn_key)
        if isinstance(fn, (list, tuple)):
            fn = fn[0]
        if fn is not None:
            stem = osp.splitext(osp.basename(str(fn).replace('\\', '/')))[0]
            stem = stem.replace('.', '_').replace(' ', '_')
            name = f'{self.set_name}_{stem}' if self.set_name else stem
            data_sample = data_sample.new(metainfo={self.fn_key: name})
        super().add_datasample(data_sample, step=step)
