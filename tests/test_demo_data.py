"""Built-in demo data: layout, sizes, pairing, idempotence, reproducibility, disjointness."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from nlcl_plugin.data import demo_data
from nlcl_plugin.data.demo_data import DEMO_SOURCES, prepare_demo_data


def _pngs(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith('.png'))


def _snapshot(root):
    """{relative path: (mtime_ns, bytes)} of every file under root (hidden ones skipped)."""
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith('.')]
        for name in files:
            if not name.startswith('.'):
                path = osp.join(dirpath, name)
                with open(path, 'rb') as f:
                    out[osp.relpath(path, root)] = (os.stat(path).st_mtime_ns, f.read())
    return out


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo') / 'nlcl_demo')
    paths = prepare_demo_data(root)
    return paths


def test_layout_counts_and_sizes(built):
    for key in ('train_rainy', 'train_clean', 'test_input', 'test_target', 'manifest'):
        assert osp.exists(built[key]), key
    rainy, clean = _pngs(built['train_rainy']), _pngs(built['train_clean'])
    assert 40 <= len(rainy) <= 60 and 30 <= len(clean) <= 60
    assert not set(rainy) & set(clean)  # unpaired: no matching names
    for folder, names in ((built['train_rainy'], rainy), (built['train_clean'], clean)):
        for name in names:
            img = cv2.imread(osp.join(folder, name), cv2.IMREAD_UNCHANGED)
            assert img.ndim == 3 and img.shape[2] == 3
            assert 256 <= img.shape[0] <= 384 and 256 <= img.shape[1] <= 384, (name, img.shape)
    total = sum(osp.getsize(osp.join(d, f)) for d, _, fs in os.walk(built['root']) for f in fs)
    assert total < 30e6


def test_test_split_is_paired(built):
    inputs, targets = _pngs(built['test_input']), _pngs(built['test_target'])
    assert inputs == targets and 12 <= len(inputs) <= 40
    for name in inputs:
        rainy = cv2.imread(osp.join(built['test_input'], name))
        clean = cv2.imread(osp.join(built['test_target'], name))
        assert rainy.shape == clean.shape
        assert 256 <= rainy.shape[0] <= 384 and 256 <= rainy.shape[1] <= 384
        diff = rainy.astype(int) - clean.astype(int)
        assert diff.max() > 20 and (abs(diff).max(axis=2) > 3).mean() > 0.002  # rain is there


def test_rainy_images_are_their_recorded_rain_scenes(built):
    """Each rainy image is re-rendered exactly from the scene the manifest records."""
    import numpy as np

    from nlcl_plugin.data.rain_kinds import sample_kind
    from nlcl_plugin.data.rain_renderer import RainScene, render_scene
    with open(built['manifest']) as f:
        manifest = json.load(f)
    tests = [e for e in manifest['images'] if e['split'] == 'test']
    assert tests
    for entry in tests:
        rng = np.random.default_rng(entry['seed'])
        scene = sample_kind(rng, entry['rain_kind'])
        assert scene == RainScene.from_dict(entry['rain'])
        assert 1 <= len(scene.layers) <= 3 and 0 <= scene.haze <= 0.15
        clean = cv2.imread(osp.join(built['root'], entry['target']))[:, :, ::-1]
        rainy = cv2.imread(osp.join(built['root'], entry['file']))[:, :, ::-1]
        expected, _ = render_scene(np.ascontiguousarray(clean), scene, seed=rng)
        assert np.array_equal(rainy, expected)


def test_rain_kinds_split_between_training_and_test(built):
    """Training crops hold only the training kinds; every test crop comes in every kind,
    the held-out one included, over the same clean crop; rain_kinds reads them back."""
    from nlcl_plugin.data.rain_kinds import HELD_OUT_KINDS, RAIN_KINDS, TRAIN_KINDS
    with open(built['manifest']) as f:
        entries = json.load(f)['images']
    train = [e for e in entries if e['split'] == 'train_rainy']
    test = [e for e in entries if e['split'] == 'test']
    assert HELD_OUT_KINDS and not set(HELD_OUT_KINDS) & set(TRAIN_KINDS)
    assert {e['rain_kind'] for e in train} == set(TRAIN_KINDS)
    assert {e['rain_kind'] for e in test} == set(RAIN_KINDS)
    assert {e['rain']['haze'] > 0 for e in train} == {True, False}  # haze on and off
    by_crop = {}
    for e in test:
        by_crop.setdefault((e['source'], tuple(e['crop_top_left_hw'])), []).append(e)
    for group in by_crop.values():
        assert sorted(e['rain_kind'] for e in group) == sorted(RAIN_KINDS)
        targets = {open(osp.join(built['root'], e['target']), 'rb').read() for e in group}
        assert len(targets) == 1  # one clean crop, rendered in each kind
        for e in group:
            assert osp.basename(e['file']).endswith(f"_{e['rain_kind']}.png")
    kinds = demo_data.rain_kinds(built['root'])
    assert {kinds[n] for n in _pngs(built['test_input'])} == set(RAIN_KINDS)
    assert {kinds[n] for n in _pngs(built['train_rainy'])} == set(TRAIN_KINDS)
    assert demo_data.rain_kinds(built['train_clean']) == {}  # no manifest there


def test_train_targets_are_the_clean_rainy_crops(built):
    """train_target/ holds each train_rainy crop without its rain (same names)."""
    rainy = _pngs(built['train_rainy'])
    assert _pngs(built['train_target']) == rainy
    for name in rainy:
        wet = cv2.imread(osp.join(built['train_rainy'], name)).astype(int)
        dry = cv2.imread(osp.join(built['train_target'], name)).astype(int)
        assert wet.shape == dry.shape
        diff = wet - dry
        assert diff.max() > 20  # the same crop with rain
        # haze and semi-transparent streaks: most pixels change by a few grey levels
        assert np.percentile(abs(diff), 50) < 30


def test_manifest_and_disjoint_sources(built):
    with open(built['manifest']) as f:
        manifest = json.load(f)
    assert manifest['version'] == demo_data.DEMO_DATA_VERSION
    assert manifest['seed'] == demo_data.DEFAULT_SEED
    by_split = {}
    for entry in manifest['images']:
        by_split.setdefault(entry['split'], set()).add(entry['source'])
        assert osp.isfile(osp.join(built['root'], entry['file']))
        assert isinstance(entry['seed'], int)
        if entry['split'] != 'train_clean':
            assert {'layers', 'haze', 'airlight', 'radiance'} <= set(entry['rain'])
            assert {'angle_deg', 'length', 'density'} <= set(entry['rain']['layers'][0])
    assert by_split == {k: set(v) for k, v in DEMO_SOURCES.items()}
    assert not by_split['train_rainy'] & by_split['train_clean']
    assert not by_split['test'] & (by_split['train_rainy'] | by_split['train_clean'])
    assert len(_pngs(built['train_rainy'])) == sum(
        e['split'] == 'train_rainy' for e in manifest['images'])


def test_second_call_is_a_noop_and_force_is_identical(built):
    before = _snapshot(built['root'])
    prepare_demo_data(built['root'])
    assert _snapshot(built['root']) == before  # same bytes and same mtimes
    prepare_demo_data(built['root'], force=True)
    after = _snapshot(built['root'])
    assert sorted(after) == sorted(before)
    assert all(after[k][1] == before[k][1] for k in before)  # byte-identical PNGs + manifest
    assert any(after[k][0] != before[k][0] for k in before)  # but rewritten
    assert not [n for n in os.listdir(built['root']) if n.startswith('.staging-')]


def test_rebuilds_when_incomplete_or_outdated(tmp_path, monkeypatch):
    root = str(tmp_path / 'demo')
    paths = prepare_demo_data(root)
    victim = osp.join(paths['train_clean'], _pngs(paths['train_clean'])[0])
    os.remove(victim)
    prepare_demo_data(root)
    assert osp.isfile(victim)
    monkeypatch.setattr(demo_data, 'DEMO_DATA_VERSION', demo_data.DEMO_DATA_VERSION + 1)
    prepare_demo_data(root)
    with open(paths['manifest']) as f:
        assert json.load(f)['version'] == demo_data.DEMO_DATA_VERSION


def test_interrupted_build_leaves_no_manifest(tmp_path, monkeypatch):
    root = str(tmp_path / 'demo')

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_data, 'render_scene', boom)
    with pytest.raises(KeyboardInterrupt):
        prepare_demo_data(root)
    assert not osp.exists(osp.join(root, 'manifest.json'))
    assert not osp.exists(osp.join(root, 'train_rainy'))
    assert not [n for n in os.listdir(root) if n.startswith('.staging-')]


def test_bad_seed():
    with pytest.raises(ValueError, match='seed'):
        prepare_demo_data('unused', seed=-1)


def test_cli_reports_up_to_date(built):
    out = subprocess.run(
        [sys.executable, '-m', 'nlcl_plugin.data.demo_data', '--root', built['root']],
        capture_output=True, text=True, cwd=osp.dirname(osp.dirname(osp.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert 'up to date' in out.stdout


def test_kinds_figure(built, tmp_path):
    """Clean crop and one panel per rain kind, per test crop; a missing crop is named."""
    from nlcl_plugin.data.rain_kinds import RAIN_KINDS
    out = demo_data.kinds_figure(built['root'], str(tmp_path / 'kinds.png'),
                                 crops=('rocket_00',), scale=0.5)
    img = cv2.imread(out)
    assert img.shape == (22 + 128, 128 * (1 + len(RAIN_KINDS)), 3)
    clean = cv2.resize(cv2.imread(osp.join(built['test_target'], 'rocket_00_drops.png')),
                       None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    assert np.abs(img[22:, :128].astype(int) - clean.astype(int)).max() <= 1
    with pytest.raises(FileNotFoundError, match='rocket_99'):
        demo_data.kinds_figure(built['root'], str(tmp_path / 'x.png'), crops=('rocket_99',))


def test_data_version_of_a_folder_or_its_split(built, tmp_path):
    root = osp.dirname(built['test'])
    assert demo_data.data_version_of(root) == demo_data.DEMO_DATA_VERSION
    assert demo_data.data_version_of(osp.join(root, 'test')) == demo_data.DEMO_DATA_VERSION
    assert demo_data.data_version_of(str(tmp_path)) is None
    (tmp_path / 'manifest.json').write_text('{"version": "x"}')
    assert demo_data.data_version_of(str(tmp_path / 'sub')) is None


@pytest.fixture(scope='module')
def same_places(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo_sp') / 'nlcl_demo_same_places')
    return prepare_demo_data(root, layout='same_places')


def _reference_photo(name):
    """The source photograph read with its package's own loader (no resizing needed:
    these three have a short side <= 512)."""
    import skimage.data
    import sklearn.datasets
    if name == 'china':
        return sklearn.datasets.load_sample_image('china.jpg')
    if name == 'motorcycle_left':
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def test_same_places_cells_share_no_pixel_and_tile_each_photograph(same_places):
    """Rainy and clean cells of one photograph never overlap, alternate as a
    checkerboard and together tile the centred grid; each cell is that photograph's
    pixels (read with the packages' own loaders), each rainy cell rendered twice."""
    from nlcl_plugin.data.demo_data import SAME_PLACES_SOURCES
    with open(same_places['manifest']) as f:
        manifest = json.load(f)
    assert manifest['layout'] == 'same_places'
    assert manifest['sources']['train_rainy'] == manifest['sources']['train_clean'] == \
        list(SAME_PLACES_SOURCES)
    train = [e for e in manifest['images'] if e['split'] != 'test']
    assert {e['source'] for e in train} == set(SAME_PLACES_SOURCES)
    for name in SAME_PLACES_SOURCES:
        photo = _reference_photo(name)
        h, w = photo.shape[:2]
        owner = np.zeros((h, w), int)  # 1 rainy, 2 clean, 3 both
        renders = {}
        for e in (e for e in train if e['source'] == name):
            top, left, ch, cw = e['crop_top_left_hw']
            assert ch == cw == 128
            bit = 1 if e['split'] == 'train_rainy' else 2
            if bit == 1:
                renders[(top, left)] = renders.get((top, left), 0) + 1
                cell = cv2.imread(osp.join(same_places['root'], e['target']))[:, :, ::-1]
            else:
                assert osp.basename(e['file']).startswith(f'clean_{name}_')
                cell = cv2.imread(osp.join(same_places['root'], e['file']))[:, :, ::-1]
            np.testing.assert_array_equal(cell, photo[top:top + ch, left:left + cw])
            owner[top:top + ch, left:left + cw] |= bit
        assert not (owner == 3).any()
        assert set(renders.values()) == {2}
        rows, cols = h // 128, w // 128
        top0, left0 = (h % 128) // 2, (w % 128) // 2
        grid = owner[top0:top0 + rows * 128, left0:left0 + cols * 128]
        assert (grid > 0).all() and (owner > 0).sum() == grid.size
        colours = grid[::128, ::128]
        for r in range(rows):
            for c in range(cols):
                assert colours[r, c] == (1 if (r + c) % 2 == 0 else 2)


def test_same_places_rainy_cells_are_their_recorded_scenes(same_places):
    """Each rainy cell is re-rendered exactly from its recorded entropy and scene, in a
    training kind; the test split is the photos layout's, byte for byte."""
    from nlcl_plugin.data.rain_kinds import TRAIN_KINDS, sample_training_kind
    from nlcl_plugin.data.rain_renderer import RainScene, render_scene
    with open(same_places['manifest']) as f:
        entries = json.load(f)['images']
    rainy = [e for e in entries if e['split'] == 'train_rainy']
    assert len(rainy) == len(_pngs(same_places['train_rainy']))
    assert {e['rain_kind'] for e in rainy} <= set(TRAIN_KINDS)
    for entry in rainy[::5]:
        rng = np.random.default_rng(entry['seed'])
        kind, scene = sample_training_kind(rng)
        assert kind == entry['rain_kind'] and scene == RainScene.from_dict(entry['rain'])
        clean = cv2.imread(osp.join(same_places['root'], entry['target']))[:, :, ::-1]
        expected, _ = render_scene(np.ascontiguousarray(clean), scene, seed=rng)
        got = cv2.imread(osp.join(same_places['root'], entry['file']))[:, :, ::-1]
        assert np.array_equal(got, expected)
    assert demo_data.rain_kinds(same_places['root'])[osp.basename(rainy[0]['file'])] == \
        rainy[0]['rain_kind']


def test_same_places_test_split_is_the_demo_one(same_places, built):
    names = _pngs(built['test_input'])
    assert _pngs(same_places['test_input']) == names
    for sub in ('test_input', 'test_target'):
        for name in names:
            with open(osp.join(built[sub], name), 'rb') as a, \
                    open(osp.join(same_places[sub], name), 'rb') as b:
                assert a.read() == b.read(), (sub, name)


def test_layout_is_part_of_what_is_up_to_date(tmp_path):
    """A folder built with one layout is rebuilt when asked for the other; an unknown
    layout is refused by the function and by the command line."""
    root = str(tmp_path / 'demo')
    paths = prepare_demo_data(root, layout='same_places')
    assert demo_data._manifest_matches(root, 0, 'same_places')
    assert not demo_data._manifest_matches(root, 0, 'photos')
    prepare_demo_data(root)
    with open(paths['manifest']) as f:
        assert 'layout' not in json.load(f)
    assert len(_pngs(paths['train_clean'])) == 36
    with pytest.raises(ValueError, match='layout'):
        prepare_demo_data(root, layout='checkers')
    out = subprocess.run(
        [sys.executable, '-m', 'nlcl_plugin.data.demo_data', '--root', root, '--layout', 'x'],
        capture_output=True, text=True)
    assert out.returncode == 2 and '--layout' in out.stderr
