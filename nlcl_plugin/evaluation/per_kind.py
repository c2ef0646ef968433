"""Metrics per rain kind: the means of per-image scores over the images of each kind.

The demo data records each rainy image's kind in its manifest
(:func:`nlcl_plugin.data.demo_data.rain_kinds`); a folder without one has no kinds, and
its reports simply have no per-kind part.
"""
import os.path as osp
from typing import Dict, Mapping, Optional, Sequence

__all__ = ['KIND_METRICS', 'kinds_of_folder', 'per_kind_means']

#: Per-image scores averaged per kind (keys of the report rows' ``<key>_per_image``).
KIND_METRICS = ('psnr', 'ssim', 'detail_projection', 'detail_removed', 'base_removed')


def kinds_of_folder(folder: str) -> Dict[str, str]:
    """Rain kind of each image in ``folder`` (image basename -> kind), read from the
    manifest of the demo data folder that holds it (``folder`` itself, its parent or
    grandparent, e.g. ``data/nlcl_demo/test/input``); empty when there is none."""
    from ..data.demo_data import MANIFEST, rain_kinds
    here = osp.abspath(folder)
    for _ in range(3):
        if osp.isfile(osp.join(here, MANIFEST)):
            return rain_kinds(here)
        here = osp.dirname(here)
    return {}


def per_kind_means(names: Sequence[str], per_image: Mapping[str, Sequence[float]],
                   kinds: Mapping[str, str],
                   order: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    """Means of per-image scores over the images of each rain kind.

    Args:
        names (Sequence[str]): Image basenames, in the order of the score lists.
        per_image (Mapping[str, Sequence[float]]): metric -> one score per image.
        kinds (Mapping[str, str]): image basename -> kind. Images without a kind are
            left out.
        order (Sequence[str], optional): Kinds in the order wanted (e.g.
            :data:`~nlcl_plugin.data.rain_kinds.RAIN_KINDS`); kinds not listed follow in
            sorted order.

    Returns:
        dict: kind -> {metric: mean, ``'images'``: count}; empty when no image has a
        kind.

    Raises:
        ValueError: A score list does not have one value per image.
    """
    for key, values in per_image.items():
        if len(values) != len(names):
            raise ValueError(f'{key}: {len(values)} scores for {len(names)} images')
    groups: Dict[str, list] = {}
    for i, name in enumerate(names):
        kind = kinds.get(osp.basename(name))
        if kind is not None:
            groups.setdefault(kind, []).append(i)
    listed = [k for k in (order or ()) if k in groups]
    ordered = listed + sorted(k for k in groups if k not in listed)
    return {kind: dict({key: sum(float(values[i]) for i in groups[kind]) / len(groups[kind])
                        for key, values in per_image.items()}, images=len(groups[kind]))
            for kind in ordered}
