"""Models on real rainy photographs, which have no clean twin: a figure and NIQE.

The authors of NLCL release 7 real rainy photographs (``rainy/``) and their model's
outputs on them (``derained/``, same names with a ``.png`` extension). :func:`run_models`
runs each model on those photographs, :func:`niqe_of` scores every image with MMagic's
NIQE (as the ``NoReferenceNIQE`` metric does: no reference, Y channel; lower is
better) and :func:`photos_figure` draws, one photograph per row, the rainy photograph,
the authors' released output and each model's. ``tools/zoo_real_photos.py`` is the
command line.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ['released_output', 'niqe_of', 'run_models', 'photos_figure']


def released_output(released_dir: str, photo: str) -> Optional[str]:
    """The authors' released output for rainy photograph ``photo`` (its basename with
    any image extension, ``.png`` first) under ``released_dir``, or None."""
    stem = osp.splitext(osp.basename(photo))[0]
    for ext in ('.png', '.jpg', '.JPG', '.jpeg'):
        path = osp.join(released_dir, stem + ext)
        if osp.isfile(path):
            return path
    return None


def niqe_of(rgb) -> float:
    """NIQE of an 8-bit RGB image (H, W, 3), computed as the ``NoReferenceNIQE`` metric
    computes it (MMagic's NIQE on Y, no border cropped); lower is better."""
    import numpy as np

    from ..mmagic.evaluation.no_reference_niqe import NoReferenceNIQE
    metric = NoReferenceNIQE(input_order='HWC')
    # MMagic's NIQE converts BGR to Y, as its models' outputs come
    return float(metric.process_image(None, np.ascontiguousarray(rgb[..., ::-1]), None))


def run_models(models: Sequence[Tuple[str, Callable]], rainy_dir: str,
               released_dir: Optional[str] = None
               ) -> Tuple[List[dict], Dict[str, list]]:
    """Run every model on every photograph of ``rainy_dir`` and score the outputs.

    Args:
        models: ``(label, derainer)`` pairs; ``derainer(rgb)`` returns ``(derained, ...)``
            (:class:`~nlcl_plugin.inference.Derainer`,
            :class:`~nlcl_plugin.mmagic.zoo.ModelDerainer`).
        rainy_dir (str): The rainy photographs.
        released_dir (str, optional): The authors' released outputs; scored and shown as
            the row ``"authors' released NLCL"`` when every photograph has one.

    Returns:
        (list[dict], dict): one row per image set (``label``, ``niqe``: mean over the
        photographs, ``niqe_per_image``, ``names``), the rainy photographs first; and
        ``{photo name: [rainy, released output (when there), each model's output]}``.
    """
    from ..image_io import is_image_file, read_image
    names = sorted(n for n in os.listdir(rainy_dir) if is_image_file(n))
    if not names:
        raise FileNotFoundError(f'no images in {rainy_dir}')
    released = [released_output(released_dir, n) for n in names] if released_dir else []
    show_released = bool(released) and all(released)
    labels = ['rainy photograph'] + (["authors' released NLCL"] if show_released else []) + \
        [label for label, _ in models]
    scores = {label: [] for label in labels}
    pictures = {}
    for i, name in enumerate(names):
        rainy, _ = read_image(osp.join(rainy_dir, name))
        images = [rainy] + ([read_image(released[i])[0]] if show_released else []) + \
            [derainer(rainy)[0] for _, derainer in models]
        for label, image in zip(labels, images):
            scores[label].append(niqe_of(image))
        pictures[name] = images
    rows = [dict(label=label, niqe=sum(s) / len(s), niqe_per_image=s, names=names)
            for label, s in scores.items()]
    return rows, pictures


def photos_figure(pictures: Dict[str, list], titles: Sequence[str], path: str,
                  panel_width: int = 384) -> str:
    """One photograph per row, its images side by side, each scaled to ``panel_width``
    pixels wide (area interpolation) under a title band; writes ``path``."""
    import cv2
    import numpy as np

    from ..image_io import write_image
    rows = []
    for images in pictures.values():
        h, w = images[0].shape[:2]
        size = (panel_width, max(1, round(h * panel_width / w)))
        rows.append(np.concatenate([cv2.resize(im, size, interpolation=cv2.INTER_AREA)
                                    for im in images], axis=1))
    grid = np.concatenate(rows, axis=0)
    header = np.full((24, grid.shape[1], 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(header, title[:45], (i * panel_width + 4, 17), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (0, 0, 0), 1, cv2.LINE_AA)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_image(path, np.concatenate([header, grid], axis=0))
    return path
