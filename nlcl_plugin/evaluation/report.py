"""The demo report's measurements: models side by side on a paired test split.

:func:`evaluate` runs each model on every rainy image of the split and scores its output
against the clean twin: PSNR/SSIM on the Y channel (MMagic's functions), the shares of
the input's error gone from each band (:mod:`.error_bands`) and the same means per rain
kind (:mod:`.per_kind`). ``tools/demo_report.py`` is the command line.
"""
import glob
import os
import os.path as osp

from .error_bands import band_removal
from .metrics import y_metrics
from .per_kind import KIND_METRICS, kinds_of_folder, per_kind_means

__all__ = ['BAND_KEYS', 'latest_checkpoint', 'official_checkpoint', 'test_pairs', 'y_metrics',
           'derainer_for', 'evaluate', 'write_pictures', 'print_per_kind', 'describe_cpu']

#: The project's root (the checkout holding ``nlcl_plugin/``).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def latest_checkpoint(work_dir):
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    ckpts = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')),
                   key=lambda p: int(osp.basename(p)[5:-4]))
    if not ckpts:
        raise FileNotFoundError(f'no checkpoint in {work_dir} (train first)')
    return ckpts[-1]


def official_checkpoint(official_dir=None):
    """The authors' G_B file, or None when it is not available here."""
    candidates = [official_dir, os.environ.get('NLCL_OFFICIAL_DIR'),
                  osp.join(REPO, '..', 'shared', 'official-nlcl')]
    for root in candidates:
        if root:
            path = osp.join(root, 'checkpoints', 'latest_net_Back.pth')
            if osp.isfile(path):
                return osp.normpath(path)
    return None


def test_pairs(test_root, inputs='input'):
    names = sorted(os.listdir(osp.join(test_root, inputs)))
    if not names:
        raise FileNotFoundError(f'no test images under {test_root}/{inputs}')
    return names


def derainer_for(cfg, checkpoint, ema=None):
    """What the report runs for the model that config ``cfg`` trains, from ``checkpoint``.

    NLCL's generator (NLCL's configs and the supervised reference, the same G_B):
    :class:`~nlcl_plugin.inference.Derainer` (``ema`` as its ``from_checkpoints``). Any
    other MMagic model (Restormer, NAFNet, CycleGAN: ``configs/zoo/``):
    :class:`~nlcl_plugin.mmagic.zoo.ModelDerainer`, through the model's own test step.
    Both are called ``derainer(rgb) -> (derained, rain or None)``.
    """
    generator = cfg.model.get('generator') or {}
    if cfg.model.type == 'NLCL' or generator.get('type') == 'DecompositionGenerator':
        from ..inference import Derainer
        return Derainer.from_checkpoints(checkpoint, ema=ema)
    from ..mmagic.zoo import ModelDerainer
    return ModelDerainer.from_config(cfg, checkpoint)


#: What :func:`evaluate` reports of the error bands (see :func:`.error_bands.band_removal`).
BAND_KEYS = ('detail_removed', 'base_removed', 'detail_projection')


def evaluate(models, test_root, inputs='input', targets='target'):
    """Mean PSNR/SSIM (Y) per model and the outputs, over the test split.

    Args:
        models (list[tuple[str, Derainer | None]]): (label, derainer); None = the input.
        test_root (str): Folder holding the rainy images (``inputs``) and their clean
            twins (``targets``), under the same names.

    Returns:
        (list[dict], dict): one row per model (label, psnr, ssim and the
        ``BAND_KEYS``: means, with per-image lists; ``names``: the images; ``per_kind``:
        the same means per rain kind where the demo manifest records kinds, else empty)
        and
        ``{image name: [rainy, output of each model..., clean]}``. ``detail_removed`` /
        ``base_removed``: the share of the input's detail-band (streaks) / base-band
        (haze, tone) error gone from the output; ``detail_projection``: the share of the
        streaks' layer taken away (:func:`.error_bands.band_removal`, sigma 3).
    """
    from ..data.rain_kinds import RAIN_KINDS
    from ..image_io import read_image
    rows = [dict(label=label, psnr=[], ssim=[], **{k: [] for k in BAND_KEYS})
            for label, _ in models]
    pictures = {}
    names = test_pairs(test_root, inputs)
    kinds = kinds_of_folder(osp.join(test_root, inputs))
    for name in names:
        rainy, _ = read_image(osp.join(test_root, inputs, name))
        clean, _ = read_image(osp.join(test_root, targets, name))
        strip = [rainy]
        for row, (_, derainer) in zip(rows, models):
            out = rainy if derainer is None else derainer(rainy)[0]
            p, s = y_metrics(out, clean)
            row['psnr'].append(p)
            row['ssim'].append(s)
            for key, share in band_removal(rainy, out, clean).items():
                row[key].append(share)
            if derainer is not None:
                strip.append(out)
        pictures[name] = strip + [clean]
    for row in rows:
        row['images'] = len(row['psnr'])
        row['names'] = names
        row['per_kind'] = per_kind_means(names, {k: row[k] for k in KIND_METRICS}, kinds,
                                         order=RAIN_KINDS)
        row['psnr_per_image'], row['ssim_per_image'] = row['psnr'], row['ssim']
        for key in BAND_KEYS:
            row[f'{key}_per_image'] = row[key]
            row[key] = sum(row[key]) / row['images']
        row['psnr'] = sum(row['psnr']) / row['images']
        row['ssim'] = sum(row['ssim']) / row['images']
    return rows, pictures


def write_pictures(pictures, titles, out_dir):
    """One strip per test image with a title over each panel."""
    import cv2
    import numpy as np

    from ..image_io import write_image
    os.makedirs(out_dir, exist_ok=True)
    for name, panels in pictures.items():
        strip = np.concatenate(panels, axis=1)
        width = panels[0].shape[1]
        header = np.full((24, strip.shape[1], 3), 255, np.uint8)
        for i, title in enumerate(titles):
            cv2.putText(header, title, (i * width + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (0, 0, 0), 1, cv2.LINE_AA)
        write_image(osp.join(out_dir, osp.splitext(name)[0] + '.png'),
                    np.concatenate([header, strip], axis=0))
    return out_dir


def print_per_kind(rows):
    """The report's table per rain kind (nothing when the images have no kinds)."""
    from ..data.rain_kinds import HELD_OUT_KINDS
    kinds = list(rows[0].get('per_kind') or {})
    if not kinds:
        return
    print()
    print('Per rain kind (* held out of training):')
    print(f'| {"model":<24} | {"rain kind":<18} | images | PSNR (Y) | SSIM (Y) |  vs input | '
          'streaks taken away | detail error removed |')
    print(f'| {"-" * 24} | {"-" * 18} | -----: | -------- | -------- | --------- | '
          '------------------ | -------------------- |')
    for row in rows:
        for kind in kinds:
            k = row['per_kind'][kind]
            gain = k['psnr'] - rows[0]['per_kind'][kind]['psnr']
            shown = kind + (' *' if kind in HELD_OUT_KINDS else '')
            print(f'| {row["label"]:<24} | {shown:<18} | {k["images"]:6d} | {k["psnr"]:8.3f} | '
                  f'{k["ssim"]:8.4f} | {gain:+6.2f} dB | {100 * k["detail_projection"]:16.1f} % | '
                  f'{100 * k["detail_removed"]:18.1f} % |')


def describe_cpu():
    try:
        from ..hardware import describe_cpu as describe
        return describe()
    except ImportError:
        import platform
        return platform.processor() or platform.machine()
