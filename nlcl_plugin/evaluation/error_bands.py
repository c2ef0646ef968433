"""Where a paired split's rain error lies: in the detail band or in the base band.

For each pair (rainy O, clean B) the error E = O - B is split by a Gaussian blur into its
base band GaussianBlur_sigma(E) (haze, veiling, brightness) and its detail band
E - base (streaks, texture). :func:`measure` scores (PSNR, Y, MMagic's function) the
input and what a perfect remover of one band alone would reach; :func:`band_removal`
and :func:`measure_outputs` measure what a model removed from each band;
:func:`band_figure` draws the outputs over their detail-band error maps.
``tools/error_bands.py`` is the command line.
"""
import os
import os.path as osp

from .metrics import y_metrics

__all__ = ['Y_WEIGHTS', 'bands', 'grey_detail', 'as_image', 'band_removal', 'measure_outputs',
           'detail_error_map', 'band_figure', 'measure']


def bands(rainy, clean, sigma):
    """(base, detail) of E = rainy - clean, float64 (H, W, 3), base = GaussianBlur_sigma(E)."""
    import cv2
    import numpy as np
    err = rainy.astype(np.float64) - clean.astype(np.float64)
    base = cv2.GaussianBlur(err, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return base, err - base


def grey_detail(rainy, clean, sigma=3.0):
    """The grey detail layer of rainy - clean: the channel mean of :func:`bands`' detail.

    Shapes: rainy, clean (H, W, 3) -> (H, W), float64.
    """
    return bands(rainy, clean, sigma)[1].mean(2)


def as_image(x):
    import numpy as np
    return np.clip(x, 0, 255).round().astype(np.uint8)


#: Weights of the Y channel (ITU-R BT.601, as MMagic's ``convert_to='Y'``) for RGB in [0, 255].
Y_WEIGHTS = (65.481 / 255, 128.553 / 255, 24.966 / 255)


def band_removal(rainy, output, clean, sigma=3.0):
    """Shares of the input's base-band and detail-band error (Y) that ``output`` removed.

    Args:
        rainy, output, clean: uint8 or float RGB images (H, W, 3), [0, 255].
        sigma (float): Blur of the band split (see :func:`bands`).

    Returns:
        dict: ``detail_removed`` and ``base_removed`` (1 - rms of the output's error in that
        band over the input's; nan where the input has no error in the band), and
        ``detail_projection``: how far the output moved along the input's detail-band
        error, <detail(O - output), detail(O - B)> / |detail(O - B)|^2 (1: all of the
        streaks' layer taken away, whatever else changed; 0: none of it). The first
        counts every change the output makes in the band, the second only the part along
        the streaks.
    """
    import numpy as np
    w = np.asarray(Y_WEIGHTS)
    out = {}
    base_in, detail_in = bands(rainy, clean, sigma)
    base_out, detail_out = bands(output, clean, sigma)
    for name, e_in, e_out in (('detail', detail_in, detail_out), ('base', base_in, base_out)):
        rms_in = float(np.sqrt(np.mean((e_in @ w) ** 2)))
        rms_out = float(np.sqrt(np.mean((e_out @ w) ** 2)))
        out[f'{name}_removed'] = 1.0 - rms_out / rms_in if rms_in > 0 else float('nan')
    d_in, d_out = detail_in @ w, detail_out @ w
    energy = float(np.sum(d_in ** 2))
    out['detail_projection'] = (float(np.sum((d_in - d_out) * d_in)) / energy if energy > 0
                                else float('nan'))
    return out


def measure_outputs(inputs, targets, outputs, sigma=3.0):
    """Per image and mean: PSNR/SSIM (Y) of ``outputs/X`` and :func:`band_removal`."""
    import numpy as np

    from ..image_io import read_image
    names = sorted(os.listdir(inputs))
    missing = [n for n in names if not osp.isfile(osp.join(outputs, n))]
    if missing:
        raise FileNotFoundError(f'{outputs} lacks {len(missing)} of the {len(names)} images '
                                f'of {inputs}, e.g. {missing[0]}')
    rows = []
    for name in names:
        rainy, _ = read_image(osp.join(inputs, name))
        clean, _ = read_image(osp.join(targets, name))
        pred, _ = read_image(osp.join(outputs, name))
        if pred.shape != clean.shape:
            raise ValueError(f'{osp.join(outputs, name)} is {pred.shape[1]}x{pred.shape[0]}, '
                             f'its target {clean.shape[1]}x{clean.shape[0]}')
        psnr_, ssim_ = y_metrics(pred, clean)
        rows.append(dict(name=name, psnr=psnr_, ssim=ssim_,
                         **band_removal(rainy, pred, clean, sigma)))
    keys = [k for k in rows[0] if k != 'name']
    mean = dict(name='mean', **{k: float(np.mean([r[k] for r in rows])) for k in keys})
    return rows, mean


def detail_error_map(image, clean, sigma=3.0, gain=4.0):
    """The detail band of the error ``image - clean`` on Y as a grey picture: mid-grey
    where there is none, brighter / darker where ``image`` is brighter / darker than
    ``clean`` in the detail band (``gain`` x the error), uint8 (H, W, 3)."""
    import numpy as np
    _, detail = bands(image, clean, sigma)
    y = detail @ np.asarray(Y_WEIGHTS)
    return np.repeat(as_image(128 + gain * y)[..., None], 3, axis=2)


def band_figure(inputs, targets, outputs, labels, names, path, sigma=3.0):
    """Two rows per image: rainy | each output | clean, and under each its detail-band
    error map (:func:`detail_error_map`; the clean image's is flat grey). Images of other
    sizes than the first are scaled to its width (aspect kept), so that the columns line
    up. Writes ``path``."""
    import cv2
    import numpy as np

    from ..image_io import read_image, write_image
    titles = ['rainy'] + list(labels) + ['clean']
    blocks = []
    width = None
    for name in names:
        rainy, _ = read_image(osp.join(inputs, name))
        clean, _ = read_image(osp.join(targets, name))
        images = [rainy] + [read_image(osp.join(o, name))[0] for o in outputs] + [clean]
        maps = [detail_error_map(im, clean, sigma) for im in images]
        h, w = clean.shape[:2]
        width = width or w
        if w != width:
            size = (width, max(1, round(h * width / w)))
            images, maps = ([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in ims]
                            for ims in (images, maps))
        blocks += [np.concatenate(images, axis=1), np.concatenate(maps, axis=1)]
    header = np.full((24, blocks[0].shape[1], 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(header, title[:30], (i * width + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.concatenate([header] + blocks, axis=0))
    return path


def measure(root, sigmas, inputs=None, targets=None):
    """One row per image and the mean row; keys: name, input, base_<s>, detail_<s>, offset.

    Pairs: ``root/input/X`` with ``root/target/X``, or ``inputs/X`` with ``targets/X``.
    """
    import numpy as np

    from ..image_io import read_image
    inputs = inputs or osp.join(root, 'input')
    targets = targets or osp.join(root, 'target')
    names = sorted(os.listdir(inputs))
    if not names:
        raise FileNotFoundError(f'no images in {inputs}')
    rows = []
    for name in names:
        rainy, _ = read_image(osp.join(inputs, name))
        clean, _ = read_image(osp.join(targets, name))
        row = dict(name=name, input=y_metrics(rainy, clean)[0])
        for s in sigmas:
            base, detail = bands(rainy, clean, s)
            row[f'base_{s:g}'] = y_metrics(as_image(clean + base), clean)[0]
            row[f'detail_{s:g}'] = y_metrics(as_image(clean + detail), clean)[0]
        offset = (rainy.astype(np.float64) - clean).mean(axis=(0, 1))
        row['offset'] = y_metrics(as_image(clean + offset), clean)[0]
        rows.append(row)
    keys = [k for k in rows[0] if k != 'name']
    mean = dict(name='mean', **{k: float(np.mean([r[k] for r in rows])) for k in keys})
    return rows, mean
