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
