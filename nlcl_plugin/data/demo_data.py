"""Built-in demo data: synthetic rain on photographs that ship inside installed packages.

Nothing is downloaded: the source photographs are natural colour photos stored in the
wheels of scikit-image (``skimage/data``), scikit-learn (``sklearn/datasets/images``) and
matplotlib (``mpl-data/sample_data``), read straight from the installed packages. Nine
photographs are split three ways, so that no photograph (nor a view of the same scene)
appears in two splits:

* ``train_rainy/``: random crops of *astronaut*, *motorcycle* (both stereo views) and
  *china*, each with its own randomly drawn rain scene of a kind drawn from
  :data:`~.rain_kinds.TRAIN_KINDS` (12 crops per photo, 256-352 px);
* ``train_clean/``: random crops of *coffee*, *grace_hopper* and *flower*, clean (12 per
  photo; names unrelated to the rainy ones: the data is unpaired). Rainy and clean
  crops are natural photos of the same kind (people, objects, scenery), as they are when
  a user collects rainy and clean photos, so the discriminator has the rain, not the
  kind of picture, to tell them apart;
* ``train_target/``: the clean originals of the ``train_rainy/`` crops, with the same
  names. NLCL never reads them; they only feed the *supervised* reference (the same
  generator trained on rainy/clean pairs, the upper bound of an unsupervised method);
* ``test/input/`` + ``test/target/``: 256x256 crops of *chelsea* and *rocket* (5
  crops), each rendered in every rain kind, the held-out kind included
  (``<photo>_<k>_<kind>.png``, 20 pairs), rainy and clean with the same basenames, the
  layout MMagic's ``BasicImageDataset`` reads with
  ``data_prefix=dict(img='input', gt='target')``.

With ``layout='same_places'`` the clean folder comes from the same places as the rainy
one instead of other photographs: *astronaut*, *motorcycle_left* and *china* (the right
stereo view is left out: it shows the left one's scene) are each cut into a grid of
128x128 cells laid as a checkerboard. The cells of one colour are the rainy crops (each
rendered twice, in kinds drawn as above, ``rain_<photo>_<row><col>_<render>.png``), the
cells of the other colour the clean crops (``clean_<photo>_<row><col>.png``). No pixel
is shared, and both folders cover every part of every photograph, so the two folders
differ by the rain and not by what the photographs show (docs/training.md 4.12). The
test split is the same, byte for byte. Its default root is ``data/nlcl_demo_same_places``.

The rain comes in kinds (:mod:`~nlcl_plugin.data.rain_kinds`): thin semi-transparent
streaks in depth layers, crisp additive streaks, drops, and (held out of training, in
the test split only) soft motion-blurred streaks blended like a screen; each scene is
hazy or not. :func:`rain_kinds` reads which kind each image holds. Every crop position
and rain parameter comes from a seeded numpy Generator, so a
build is byte-for-byte reproducible for given package files. ``manifest.json`` records
the generator version, the seeds and the per-image rain scenes; it is written last,
after the image folders have been moved into place from a private staging folder, so an
interrupted build never looks complete. A later call with a matching manifest (same
version and seed, every listed file present with its recorded size) returns at once.

Command line::

    python -m nlcl_plugin.data.demo_data --root data/nlcl_demo [--force] [--seed 0]
        [--layout photos|same_places] [--kinds-figure docs/figures/rain_kinds.jpg]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..image_io import read_image
from .rain_kinds import RAIN_KINDS, sample_kind, sample_training_kind
from .rain_renderer import render_scene

__all__ = ['DEMO_DATA_VERSION', 'DEMO_SOURCES', 'LAYOUTS', 'PHOTO_FILES', 'SAME_PLACES_SOURCES',
           'prepare_demo_data', 'rain_kinds', 'data_version_of', 'main']

#: Bump whenever the generated content would change (sources, crops, renderer).
DEMO_DATA_VERSION = 4
DEFAULT_SEED = 0
GENERATOR = 'nlcl_plugin.data.demo_data'

#: Photograph name -> (package, file inside that package's sample-image folder).
PHOTO_FILES = {
    'astronaut': ('skimage', 'astronaut.png'),
    'motorcycle_left': ('skimage', 'motorcycle_left.png'),
    'motorcycle_right': ('skimage', 'motorcycle_right.png'),
    'china': ('sklearn', 'china.jpg'),
    'coffee': ('skimage', 'coffee.png'),
    'grace_hopper': ('matplotlib', 'grace_hopper.jpg'),
    'flower': ('sklearn', 'flower.jpg'),
    'chelsea': ('skimage', 'chelsea.png'),
    'rocket': ('skimage', 'rocket.jpg'),
}
#: Which photographs feed which split (disjoint).
DEMO_SOURCES = {
    'train_rainy': ('astronaut', 'motorcycle_left', 'motorcycle_right', 'china'),
    'train_clean': ('coffee', 'grace_hopper', 'flower'),
    'test': ('chelsea', 'rocket'),
}
#: How the training folders are drawn: ``'photos'``, rainy and clean crops of different
#: photographs (:data:`DEMO_SOURCES`); ``'same_places'``, checkerboard cells of the same
#: photographs (:data:`SAME_PLACES_SOURCES`).
LAYOUTS = ('photos', 'same_places')
SAME_PLACES_SOURCES = ('astronaut', 'motorcycle_left', 'china')
SAME_PLACES_CELL = 128
RENDERS_PER_CELL = 2
#: Added to the master seed in each rainy cell's entropy ``[2026 + seed, photo, row,
#: column, render]``; seed 0 gives the cells measured in docs/training.md 4.12.
SAME_PLACES_ENTROPY = 2026
CROPS_PER_TRAIN_PHOTO = 12
TRAIN_CROP_RANGE = (256, 352)  # inclusive, multiples of 8
TEST_CROP = 256
MAX_SHORT_SIDE = 512  # larger photographs are downscaled first (area interpolation)
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 9]
MANIFEST = 'manifest.json'
SUBDIRS = ('train_rainy', 'train_clean', 'train_target', 'test')
_SPLIT_IDS = {'train_rainy': 1, 'train_clean': 2, 'test': 3}


def _paths(root: str) -> Dict[str, str]:
    return {
        'root': root,
        'train_rainy': osp.join(root, 'train_rainy'),
        'train_clean': osp.join(root, 'train_clean'),
        'train_target': osp.join(root, 'train_target'),
        'test': osp.join(root, 'test'),
        'test_input': osp.join(root, 'test', 'input'),
        'test_target': osp.join(root, 'test', 'target'),
        'manifest': osp.join(root, MANIFEST),
    }


def _header(seed: int, layout: str = 'photos') -> dict:
    header = {'generator': GENERATOR, 'version': DEMO_DATA_VERSION, 'seed': seed}
    if layout != 'photos':  # the default layout's manifests predate the key
        header['layout'] = layout
    return header


def _sources(layout: str) -> Dict[str, Tuple[str, ...]]:
    """Which photographs feed which split under ``layout``."""
    if layout == 'same_places':
        return {'train_rainy': SAME_PLACES_SOURCES, 'train_clean': SAME_PLACES_SOURCES,
                'test': DEMO_SOURCES['test']}
    return dict(DEMO_SOURCES)


def _package_image_dir(package: str) -> str:
    """The folder of sample images inside an installed package."""
    if package == 'skimage':
        import skimage
        return osp.join(osp.dirname(skimage.__file__), 'data')
    if package == 'sklearn':
        import sklearn.datasets
        return osp.join(osp.dirname(sklearn.datasets.__file__), 'images')
    if package == 'matplotlib':
        import matplotlib
        return osp.join(matplotlib.get_data_path(), 'sample_data')
    raise ValueError(f'unknown source package {package!r}')


def _load_source(name: str) -> np.ndarray:
    """Read one bundled photograph as uint8 RGB, downscaled to a short side <= 512."""
    package, filename = PHOTO_FILES[name]
    try:
        path = osp.join(_package_image_dir(package), filename)
    except ImportError as err:
        raise FileNotFoundError(
            f'demo source photograph {name!r} comes with the {package} package, which is '
            f'not installed ({err}); install it (requirements/runtime.txt)') from err
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'demo source photograph {name!r} not found at {path}; the demo data is built '
            f'from the images inside the {package} package: reinstall it')
    img, _ = read_image(path)
    return _downscale(img)


def _downscale(img: np.ndarray) -> np.ndarray:
    """``img`` (H, W, C) with its short side brought down to <= MAX_SHORT_SIDE (area
    interpolation); returned as it is when already that small."""
    h, w = img.shape[:2]
    scale = MAX_SHORT_SIDE / min(h, w)
    if scale < 1.0:
        size = (int(round(w * scale)), int(round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def _item_seed(seed: int, split: str, photo_idx: int, k: int, *more: int) -> int:
    state = np.random.SeedSequence([seed, _SPLIT_IDS[split], photo_idx, k, *more])
    return int(state.generate_state(1, dtype=np.uint32)[0])


def _random_crop_box(rng: np.random.Generator, shape: Sequence[int]) -> Tuple[int, int, int, int]:
    lo, hi = TRAIN_CROP_RANGE
    ch = min(int(rng.integers(lo // 8, hi // 8 + 1)) * 8, shape[0])
    cw = min(int(rng.integers(lo // 8, hi // 8 + 1)) * 8, shape[1])
    top = int(rng.integers(0, shape[0] - ch + 1))
    left = int(rng.integers(0, shape[1] - cw + 1))
    return top, left, ch, cw


def _test_crop_boxes(shape: Sequence[int]) -> List[Tuple[int, int, int, int]]:
    """Evenly spaced TEST_CROP squares across the width, alternating top / bottom."""
    h, w = shape[:2]
    n = int(np.ceil(w / TEST_CROP))
    lefts = np.linspace(0, w - TEST_CROP, n).round().astype(int)
    return [(0 if i % 2 == 0 else h - TEST_CROP, int(x), TEST_CROP, TEST_CROP)
            for i, x in enumerate(lefts)]


def _write_png(path: str, rgb: np.ndarray) -> int:
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(rgb[:, :, ::-1]), PNG_PARAMS)
    if not ok:
        raise OSError(f'cannot encode PNG for {path}')
    data = buf.tobytes()
    with open(path, 'wb') as f:
        f.write(data)
    return len(data)


def _crop(img: np.ndarray, box: Tuple[int, int, int, int]) -> np.ndarray:
    top, left, h, w = box
    return np.ascontiguousarray(img[top:top + h, left:left + w])


def _build(staging: str, seed: int, layout: str = 'photos') -> List[dict]:
    """Write all splits under ``staging``; return the per-image manifest entries."""
    for split in SUBDIRS:
        os.makedirs(osp.join(staging, split), exist_ok=True)
    os.makedirs(osp.join(staging, 'test', 'input'))
    os.makedirs(osp.join(staging, 'test', 'target'))
    if layout == 'same_places':
        entries = _build_same_places_training(staging, seed)
    else:
        entries = _build_photos_training(staging, seed)
    return entries + _build_test(staging, seed)


def _rainy_entry(staging: str, source: str, box, item_seed, base: str, clean: np.ndarray,
                 rng: np.random.Generator) -> dict:
    """Write a rainy training crop (its kind and rain drawn from ``rng``) and its
    rain-free twin ``clean``; return its manifest entry."""
    entry = {'split': 'train_rainy', 'source': source, 'crop_top_left_hw': list(box),
             'seed': item_seed, 'target': f'train_target/{base}'}
    entry['target_bytes'] = _write_png(osp.join(staging, entry['target']), clean)
    kind, scene = sample_training_kind(rng)
    rainy, _ = render_scene(clean, scene, seed=rng)
    entry.update(rain_kind=kind, rain=scene.as_dict(), file=f'train_rainy/{base}')
    entry['bytes'] = _write_png(osp.join(staging, entry['file']), rainy)
    return entry


def _checkerboard_cells(shape: Sequence[int], cell: int) -> List[Tuple[int, int, int, int]]:
    """``(row, col, top, left)`` of the ``cell`` x ``cell`` grid centred in ``shape``."""
    h, w = shape[:2]
    top, left = (h % cell) // 2, (w % cell) // 2
    return [(r, c, top + r * cell, left + c * cell)
            for r in range(h // cell) for c in range(w // cell)]


def _build_same_places_training(staging: str, seed: int) -> List[dict]:
    """The ``'same_places'`` training folders: checkerboard cells, rainy where
    ``row + col`` is even (rendered :data:`RENDERS_PER_CELL` times), clean elsewhere."""
    entries, cell = [], SAME_PLACES_CELL
    for p_idx, name in enumerate(SAME_PLACES_SOURCES):
        photo = _load_source(name)
        for r, c, top, left in _checkerboard_cells(photo.shape, cell):
            box = (top, left, cell, cell)
            img = _crop(photo, box)
            if (r + c) % 2:
                rel = f'train_clean/clean_{name}_{r}{c}.png'
                entries.append({'split': 'train_clean', 'source': name,
                                'crop_top_left_hw': list(box), 'file': rel,
                                'bytes': _write_png(osp.join(staging, rel), img)})
                continue
            for v in range(RENDERS_PER_CELL):
                entropy = [SAME_PLACES_ENTROPY + seed, p_idx, r, c, v]
                entries.append(_rainy_entry(staging, name, box, entropy,
                                            f'rain_{name}_{r}{c}_{v}.png', img,
                                            np.random.default_rng(entropy)))
    return entries


def _build_photos_training(staging: str, seed: int) -> List[dict]:
    """The ``'photos'`` training folders: random crops of :data:`DEMO_SOURCES`."""
    entries = []
    for split, prefix in (('train_rainy', 'rain'), ('train_clean', 'clean')):
        for p_idx, name in enumerate(DEMO_SOURCES[split]):
            photo = _load_source(name)
            for k in range(CROPS_PER_TRAIN_PHOTO):
                item_seed = _item_seed(seed, split, p_idx, k)
                rng = np.random.default_rng(item_seed)
                box = _random_crop_box(rng, photo.shape)
                img = _crop(photo, box)
                base = f'{prefix}_{name}_{k:02d}.png'
                if split == 'train_rainy':
                    entries.append(_rainy_entry(staging, name, box, item_seed, base, img, rng))
                    continue
                rel = f'{split}/{base}'
                entries.append({'split': split, 'source': name, 'crop_top_left_hw': list(box),
                                'seed': item_seed, 'file': rel,
                                'bytes': _write_png(osp.join(staging, rel), img)})
    return entries


def _build_test(staging: str, seed: int) -> List[dict]:
    """The paired test split (the same under every layout)."""
    entries = []
    for p_idx, name in enumerate(DEMO_SOURCES['test']):
        photo = _load_source(name)
        for k, box in enumerate(_test_crop_boxes(photo.shape)):
            clean = _crop(photo, box)
            for j, kind in enumerate(RAIN_KINDS):
                item_seed = _item_seed(seed, 'test', p_idx, k, j)
                rng = np.random.default_rng(item_seed)
                scene = sample_kind(rng, kind)
                rainy, _ = render_scene(clean, scene, seed=rng)
                base = f'{name}_{k:02d}_{kind}.png'
                entries.append({
                    'split': 'test', 'source': name, 'crop_top_left_hw': list(box),
                    'seed': item_seed, 'rain_kind': kind, 'rain': scene.as_dict(),
                    'file': f'test/input/{base}',
                    'bytes': _write_png(osp.join(staging, 'test', 'input', base), rainy),
                    'target': f'test/target/{base}',
                    'target_bytes': _write_png(osp.join(staging, 'test', 'target', base),
                                               clean),
                })
    return entries


def _read_manifest(root: str):
    """The parsed ``root/manifest.json``; None when it is missing or not JSON."""
    try:
        with open(osp.join(root, MANIFEST)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rain_kinds(root: str) -> Dict[str, str]:
    """The rain kind of every rainy image of a demo data folder, from its manifest.

    Args:
        root (str): The demo data folder (holding ``manifest.json``).

    Returns:
        dict: image basename (e.g. ``'rocket_01_drops.png'`` or
        ``'rain_china_03.png'``) -> kind (one of
        :data:`~.rain_kinds.RAIN_KINDS`); empty when the folder has no manifest or the
        manifest records no kinds (data written before rain kinds existed).
    """
    manifest = _read_manifest(root)
    kinds = {}
    for entry in manifest.get('images', []) if isinstance(manifest, dict) else []:
        if isinstance(entry, dict) and 'rain_kind' in entry and 'file' in entry:
            kinds[osp.basename(entry['file'])] = entry['rain_kind']
    return kinds


def data_version_of(folder: str) -> Optional[int]:
    """The demo data version of ``folder`` (a demo data folder or one of its splits,
    e.g. ``data/nlcl_demo/test``), from the manifest there or one level up; None for
    a folder that is not demo data."""
    for root in (folder, osp.dirname(osp.normpath(folder))):
        manifest = _read_manifest(root)
        if manifest is not None:
            version = manifest.get('version') if isinstance(manifest, dict) else None
            return version if isinstance(version, int) else None
    return None


def _manifest_matches(root: str, seed: int, layout: str = 'photos') -> bool:
    """True when ``root/manifest.json`` matches this generator and every file is there."""
    manifest = _read_manifest(root)
    if not isinstance(manifest, dict) or manifest.get('layout', 'photos') != layout or any(
            manifest.get(k) != v for k, v in _header(seed, layout).items()):
        return False
    try:
        for entry in manifest['images']:
            for key, size_key in (('file', 'bytes'), ('target', 'target_bytes')):
                if key in entry and os.stat(osp.join(root, entry[key])).st_size != \
                        entry[size_key]:
                    return False
    except (OSError, KeyError, TypeError):
        return False
    return True


@contextlib.contextmanager
def _lock(root: str) -> Iterator[None]:
    """An exclusive advisory lock on ``root/.lock`` (a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent builders are not guarded
        yield
        return
    with open(osp.join(root, '.lock'), 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare_demo_data(root: str = 'data/nlcl_demo',
                      force: bool = False,
                      seed: int = DEFAULT_SEED,
                      verbose: bool = False,
                      layout: str = 'photos') -> Dict[str, str]:
    """Build the demo data under ``root`` unless an up-to-date build is already there.

    Args:
        root (str): Output folder (created if needed). Only ``train_rainy/``,
            ``train_clean/``, ``train_target/``, ``test/`` and ``manifest.json`` inside
            it are replaced.
        force (bool): Rebuild even when the manifest matches.
        seed (int): Master seed of every crop position and rain parameter.
        verbose (bool): Print a one-line summary after a build.
        layout (str): How the training folders are drawn, one of :data:`LAYOUTS`:
            ``'photos'`` (rainy and clean crops of different photographs) or
            ``'same_places'`` (checkerboard cells of the same photographs).

    Returns:
        dict[str, str]: Absolute paths: ``root``, ``train_rainy``, ``train_clean``,
        ``train_target``,
        ``test``, ``test_input``, ``test_target`` and ``manifest``.

    Raises:
        ValueError: ``seed`` is not a non-negative int, or ``layout`` is unknown.
        FileNotFoundError: A source photograph is missing from the scikit-image install.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    seed = int(seed)
    root = osp.abspath(os.fspath(root))
    paths = _paths(root)
    if not force and _manifest_matches(root, seed, layout):
        return paths
    os.makedirs(root, exist_ok=True)
    with _lock(root):
        if not force and _manifest_matches(root, seed, layout):  # built concurrently
            return paths
        for stale in os.listdir(root):  # left over by an interrupted build
            if stale.startswith('.staging-'):
                shutil.rmtree(osp.join(root, stale), ignore_errors=True)
        start = time.time()
        staging = tempfile.mkdtemp(prefix='.staging-', dir=root)
        try:
            entries = _build(staging, seed, layout)
            manifest_path = paths['manifest']
            if osp.exists(manifest_path):
                os.remove(manifest_path)  # from here on the folder does not look complete
            for sub in SUBDIRS:
                target = osp.join(root, sub)
                if osp.lexists(target):
                    os.rename(target, osp.join(staging, f'old-{sub}'))
                os.rename(osp.join(staging, sub), target)
            import matplotlib
            import skimage
            import sklearn
            manifest = dict(_header(seed, layout))
            manifest.update({
                'package_versions': dict(scikit_image=skimage.__version__,
                                         scikit_learn=sklearn.__version__,
                                         matplotlib=matplotlib.__version__),
                'sources': {k: list(v) for k, v in _sources(layout).items()},
                'images': entries,
            })
            tmp = f'{manifest_path}.tmp-{os.getpid()}'
            with open(tmp, 'w') as f:
                json.dump(manifest, f, indent=1)
            os.replace(tmp, manifest_path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if verbose:
            total = sum(e['bytes'] + e.get('target_bytes', 0) for e in entries)
            counts = {s: sum(e['split'] == s for e in entries) for s in SUBDIRS}
            print(f'demo data built in {time.time() - start:.1f} s under {root}: '
                  f'{counts["train_rainy"]} rainy + {counts["train_clean"]} clean training '
                  f'images, {counts["test"]} test pairs, {total / 1e6:.1f} MB')
    return paths


def kinds_figure(root: str, path: str, crops: Sequence[str] = ('rocket_01', 'chelsea_00'),
                 scale: float = 0.75) -> str:
    """A picture of the rain kinds: per test crop, the clean crop and its rainy
    renderings in every kind (:data:`~.rain_kinds.RAIN_KINDS` order), titled.

    Args:
        root (str): A built demo data folder.
        path (str): Where to write the picture (PNG or JPEG).
        crops (Sequence[str]): Test crops to show, ``<photo>_<k>``.
        scale (float): Resize factor of each panel.

    Returns:
        str: ``path``.
    """
    from ..image_io import write_image
    from .rain_kinds import HELD_OUT_KINDS
    kinds = rain_kinds(root)
    titles = ['clean'] + [k + (' (held out)' if k in HELD_OUT_KINDS else '')
                          for k in RAIN_KINDS]
    rows = []
    for crop in crops:
        names = [f'{crop}_{kind}.png' for kind in RAIN_KINDS]
        missing = [n for n in names if kinds.get(n) is None]
        if missing:
            raise FileNotFoundError(f'{root}: no test images {missing} (build the demo data)')
        panels = [read_image(osp.join(root, 'test', 'target', names[0]))[0]]
        panels += [read_image(osp.join(root, 'test', 'input', n))[0] for n in names]
        panels = [cv2.resize(p, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                  for p in panels]
        rows.append(np.concatenate(panels, axis=1))
    width = rows[0].shape[1] // len(titles)
    header = np.full((22, rows[0].shape[1], 3), 255, np.uint8)
    for i, title in enumerate(titles):
        cv2.putText(header, title, (i * width + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.concatenate([header] + rows, axis=0))
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='Build the NLCL demo data (synthetic rain on scikit-image photographs; '
        'nothing is downloaded).')
    parser.add_argument('--root', default='data/nlcl_demo', help='output folder')
    parser.add_argument('--force', action='store_true', help='rebuild even if up to date')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED, help='master seed')
    parser.add_argument('--layout', choices=LAYOUTS, default='photos',
                        help='training folders from different photographs (photos) or '
                        'checkerboard cells of the same ones (same_places)')
    parser.add_argument('--kinds-figure', metavar='OUT',
                        help='also write a picture of the rain kinds on two test crops')
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    manifest = _paths(osp.abspath(args.root))['manifest']
    was_current = not args.force and _manifest_matches(osp.abspath(args.root), args.seed,
                                                       args.layout)
    paths = prepare_demo_data(args.root, force=args.force, seed=args.seed, verbose=True,
                              layout=args.layout)
    if was_current:
        print(f'demo data under {paths["root"]} is up to date ({manifest}); '
              'use --force to rebuild')
    if args.kinds_figure:
        print(f'rain kinds: {kinds_figure(paths["root"], args.kinds_figure)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
