"""Rainy cells of more photographs, for the band-blind predictor (a measurement script).

The photographs are natural colour ones from OpenCV's sample data, which ships inside the
``opencv-python`` source distribution on PyPI (the repository's Apache-2.0 licence; the
folder has no licence file of its own, and OpenCV's COPYRIGHT notes that third-party
copyrights stay with their owners). They are fetched at run time, checked against the
archive's SHA-256, used for measurement only and never committed. None of them is a demo photograph (training, clean folder or test split).
Excluded: portraits of people (``lena``, ``messi5``), the USC-SIPI ``baboon``, synthetic
or text images, grey ones and the dark ``left``.

Each photograph is downscaled to a short side of at most 512 pixels (as the demo data's
are), cut into the 128 x 128 cells of the centred grid, and each cell rendered once with a
rain kind drawn as the demo's training cells draw theirs (``sample_training_kind``: the
held-out kind never appears). Writes OUT/more_rainy/, OUT/more_target/ (the rain-free twins)
and OUT/manifest.json (each cell's rain kind under ``images``, as the demo data's manifest
records it, so that the scoring tools report per kind). The folders are named apart from the
demo's: ``band_blind.py`` writes its predictions of a folder under the folder's name.

    more_photos.py --out DIR [--sdist opencv-python-4.10.0.84.tar.gz]
"""
import argparse, hashlib, json, os, os.path as osp, sys, tarfile, tempfile, urllib.request
import numpy as np
import cv2
sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', '..'))
from nlcl_plugin.data.demo_data import (SAME_PLACES_CELL, _checkerboard_cells, _downscale,
                                        _write_png)
from nlcl_plugin.data.rain_kinds import sample_training_kind
from nlcl_plugin.data.rain_renderer import render_scene

SDIST = 'opencv-python-4.10.0.84.tar.gz'
URL = ('https://files.pythonhosted.org/packages/4a/e7/'
       'b70a2d9ab205110d715906fc8ec83fbb00404aeb3a37a0654fdb68eb0c8c/' + SDIST)
SHA256 = '72d234e4582e9658ffea8e9cae5b63d488ad06994ef12d81dc303b17472f3526'
PHOTOS = ('aero1.jpg', 'aero3.jpg', 'aloeL.jpg', 'apple.jpg', 'board.jpg', 'building.jpg',
          'butterfly.jpg', 'ela_original.jpg', 'fruits.jpg', 'graf1.png', 'home.jpg', 'leuvenA.jpg',
          'orange.jpg', 'rubberwhale1.png', 'smarties.png', 'squirrel_cls.jpg', 'stuff.jpg')
ENTROPY = 4242  # each cell's rain: default_rng([ENTROPY + seed, photo, row, col])


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def fetch(sdist):
    """The sdist at ``sdist`` (downloaded there if absent), its SHA-256 checked."""
    if not osp.exists(sdist):
        print(f'downloading {URL}', flush=True)
        urllib.request.urlretrieve(URL, sdist + '.part')
        os.replace(sdist + '.part', sdist)
    got = sha256(sdist)
    if got != SHA256:
        raise ValueError(f'{sdist}: SHA-256 {got}, expected {SHA256}')
    return sdist


def photographs(sdist):
    """name -> uint8 RGB of each of PHOTOS, downscaled as the demo's photographs are."""
    out = {}
    with tarfile.open(sdist) as tar:
        members = {osp.basename(m.name): m for m in tar.getmembers()
                   if '/opencv/samples/data/' in m.name and m.name.count('/') == 4}
        for name in PHOTOS:
            if name not in members:
                raise FileNotFoundError(f'{sdist} holds no samples/data/{name}')
            buf = np.frombuffer(tar.extractfile(members[name]).read(), np.uint8)
            bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f'{sdist}: samples/data/{name} does not decode')
            out[osp.splitext(name)[0]] = _downscale(np.ascontiguousarray(bgr[:, :, ::-1]))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', required=True)
    p.add_argument('--sdist', default=osp.join(tempfile.gettempdir(), SDIST))
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    photos = photographs(fetch(a.sdist))
    for d in ('more_rainy', 'more_target'):
        os.makedirs(osp.join(a.out, d), exist_ok=True)
    entries, cell = [], SAME_PLACES_CELL
    for p_idx, (name, photo) in enumerate(photos.items()):
        for r, c, top, left in _checkerboard_cells(photo.shape, cell):
            clean = np.ascontiguousarray(photo[top:top + cell, left:left + cell])
            rng = np.random.default_rng([ENTROPY + a.seed, p_idx, r, c])
            kind, scene = sample_training_kind(rng)
            rainy, _ = render_scene(clean, scene, seed=rng)
            base = f'more_{name}_{r:02d}{c:02d}.png'
            _write_png(osp.join(a.out, 'more_rainy', base), rainy)
            _write_png(osp.join(a.out, 'more_target', base), clean)
            entries.append({'file': f'more_rainy/{base}', 'target': f'more_target/{base}',
                            'source': name, 'crop_top_left_hw': [top, left, cell, cell],
                            'rain_kind': kind})
    kinds = {k: sum(e['rain_kind'] == k for e in entries)
             for k in sorted({e['rain_kind'] for e in entries})}
    with open(osp.join(a.out, 'manifest.json'), 'w') as f:
        json.dump({'sdist': SDIST, 'sha256': SHA256, 'seed': a.seed, 'photos': list(photos),
                   'kinds': kinds, 'images': entries}, f, indent=1)
    print(f'{len(entries)} cells of {len(photos)} photographs: {kinds}')


if __name__ == '__main__':
    main()
