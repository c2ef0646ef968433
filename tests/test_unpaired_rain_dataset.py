"""UnpairedRainDataset + RandomCropOrPad through MMagic's registries and PackInputs."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

import nlcl_plugin.mmagic.datasets  # noqa: F401  (registers the classes)
from nlcl_plugin.mmagic.datasets import RandomCropOrPad, UnpairedRainDataset

from mmagic.registry import DATASETS, TRANSFORMS  # noqa: E402

CROP = 64


@pytest.fixture(autouse=True, scope='module')
def mmagic_scope():
    name = 'test_unpaired_rain_dataset'
    scope = (DefaultScope.get_instance(name, scope_name='mmagic')
             if not DefaultScope.check_instance_created(name) else None)
    yield scope


def _write(path, img):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img)


def _noise(rng, h, w, c=3):
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def data_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / 'rain'
    for i, (h, w) in enumerate([(80, 96), (100, 70), (64, 64)]):
        _write(str(root / 'train_rainy' / f'r{i}.png'), _noise(rng, h, w))
    for i in range(4):
        _write(str(root / 'train_clean' / f'c{i}.png'), _noise(rng, 90, 110))
    _write(str(root / 'train_clean' / 'sub' / 'DEEP.JPG'), _noise(rng, 72, 72))  # case, depth
    (root / 'train_clean' / 'notes.txt').write_text('not an image')
    _write(str(root / 'train_clean' / '.hidden' / 'skip.png'), _noise(rng, 70, 70))
    return str(root)


def pipeline(crop=CROP, pad_mode='reflect', color_type='color'):
    load = dict(type='LoadImageFromFile', color_type=color_type, channel_order='rgb',
                imdecode_backend='cv2')
    return [
        dict(load, key='img'),
        dict(load, key='gt'),
        dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size=crop, pad_mode=pad_mode),
        dict(type='PackInputs'),
    ]


def build(data_root, **kwargs):
    cfg = dict(type='UnpairedRainDataset', data_root=data_root,
               data_prefix=dict(rainy='train_rainy', clean='train_clean'),
               pipeline=pipeline())
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_registered_and_packed(data_root):
    ds = build(data_root)
    assert isinstance(ds, UnpairedRainDataset)
    assert ds.num_rainy == 3 and ds.num_clean == 5  # sub/DEEP.JPG found, .hidden and .txt not
    assert len(ds) == 5
    np.random.seed(0)
    item = ds[4]
    assert isinstance(item['inputs'], torch.Tensor)
    assert item['inputs'].shape == (3, CROP, CROP) and item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert tuple(sample.gt_img.shape) == (3, CROP, CROP)
    assert sample.img_path.endswith(osp.join('train_rainy', 'r1.png'))  # 4 % 3
    assert osp.join(data_root, 'train_clean') in sample.gt_path
    assert sample.sample_idx == 4
    info = ds.get_data_info(4)
    assert info['key'] == 'r1'
    assert info['clean_key'] in {'c0', 'c1', 'c2', 'c3', osp.join('sub', 'DEEP')}


def test_random_clean_partner_is_uniform_and_seeded(data_root):
    ds = build(data_root, pipeline=[])
    np.random.seed(1)
    partners = [ds.get_data_info(0)['gt_path'] for _ in range(60)]
    assert len(set(partners)) == 5
    np.random.seed(1)
    assert [ds.get_data_info(0)['gt_path'] for _ in range(60)] == partners
    test_ds = build(data_root, pipeline=[], test_mode=True)
    assert [osp.basename(test_ds.get_data_info(i)['gt_path']) for i in range(5)] == \
        [osp.basename(p) for p in test_ds._clean_paths[:5]]


def test_len_is_max_of_both_folders(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(7):
        _write(str(tmp_path / 'wet' / f'{i}.png'), _noise(rng, 70, 70))
    _write(str(tmp_path / 'dry' / 'a.bmp'), _noise(rng, 70, 70))
    ds = DATASETS.build(dict(type='UnpairedRainDataset', data_root=str(tmp_path),
                             data_prefix=dict(rainy='wet', clean='dry'), pipeline=[]))
    assert len(ds) == 7 and ds.num_clean == 1
    assert {osp.basename(ds.get_data_info(i)['img_path']) for i in range(7)} == \
        {f'{i}.png' for i in range(7)}


@pytest.mark.parametrize('domain', ['rainy', 'clean'])
def test_missing_folder_error_names_path_and_key(data_root, domain):
    prefix = dict(rainy='train_rainy', clean='train_clean')
    prefix[domain] = 'nowhere'
    with pytest.raises(FileNotFoundError) as err:
        build(data_root, data_prefix=prefix)
    msg = str(err.value)
    assert osp.join(data_root, 'nowhere') in msg and f'data_prefix.{domain}' in msg


@pytest.mark.parametrize('domain', ['rainy', 'clean'])
def test_empty_folder_error_names_path_and_key(data_root, domain):
    empty = osp.join(data_root, 'empty')
    os.makedirs(empty)
    open(osp.join(empty, 'readme.txt'), 'w').close()
    prefix = dict(rainy='train_rainy', clean='train_clean')
    prefix[domain] = 'empty'
    with pytest.raises(FileNotFoundError) as err:
        build(data_root, data_prefix=prefix)
    assert empty in str(err.value) and f'data_prefix.{domain}' in str(err.value)


def test_data_prefix_needs_both_keys(data_root):
    with pytest.raises(KeyError, match='clean'):
        build(data_root, data_prefix=dict(rainy='train_rainy'))


def test_small_image_is_reflect_padded_without_distortion():
    small = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    t = TRANSFORMS.build(dict(type='RandomCropOrPad', keys=['img'], crop_size=64))
    out = t(dict(img=small.copy()))
    expected = np.pad(small, ((12, 12), (7, 7), (0, 0)), mode='reflect')
    np.testing.assert_array_equal(out['img'], expected)
    np.testing.assert_array_equal(out['img'][12:52, 7:57], small)  # original untouched
    assert out['img_pad'] == [[12, 12], [7, 7]] and out['img_resize_scale'] == 1.0
    # only the short dimension is padded; the other is cropped at random
    wide = np.random.default_rng(3).integers(0, 256, (40, 90, 3), dtype=np.uint8)
    out = t(dict(img=wide.copy()))
    x, y, w, h = out['img_crop_bbox']
    padded = np.pad(wide, ((12, 12), (0, 0), (0, 0)), mode='reflect')
    np.testing.assert_array_equal(out['img'], padded[:, x:x + 64])


def test_small_image_resize_mode_keeps_aspect_ratio():
    small = np.random.default_rng(4).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    t = RandomCropOrPad(keys='img', crop_size=64, pad_mode='resize')
    out = t(dict(img=small))
    assert out['img'].shape == (64, 64, 3)
    assert out['img_resize_scale'] == pytest.approx(1.6)
    resized = cv2.resize(small, (80, 64), interpolation=cv2.INTER_CUBIC)  # 1.6 x both sides
    x, y, w, h = out['img_crop_bbox']
    np.testing.assert_array_equal(out['img'], resized[y:y + h, x:x + w])


def test_crops_are_independent_and_seeded():
    img = np.arange(200 * 200 * 3, dtype=np.int64).reshape(200, 200, 3) % 251
    t = RandomCropOrPad(keys=['img', 'gt'], crop_size=(32, 48))
    np.random.seed(5)
    boxes = [(r['img_crop_bbox'], r['gt_crop_bbox'])
             for r in (t(dict(img=img, gt=img)) for _ in range(10))]
    assert any(a != b for a, b in boxes)  # independent windows for the two keys
    np.random.seed(5)
    again = [(r['img_crop_bbox'], r['gt_crop_bbox'])
             for r in (t(dict(img=img, gt=img)) for _ in range(10))]
    assert boxes == again
    r = t(dict(img=img, gt=img))
    assert r['img'].shape == (32, 48, 3) and r['crop_size'] == (32, 48)
    x, y, w, h = r['gt_crop_bbox']
    np.testing.assert_array_equal(r['gt'], img[y:y + h, x:x + w])


def test_grayscale_images_become_three_channels(tmp_path):
    rng = np.random.default_rng(6)
    _write(str(tmp_path / 'train_rainy' / 'g.png'), _noise(rng, 50, 40, c=None))
    _write(str(tmp_path / 'train_clean' / 'g.png'), _noise(rng, 80, 80, c=None))
    for color_type in ('grayscale', 'unchanged', 'color'):
        ds = build(str(tmp_path), pipeline=pipeline(color_type=color_type))
        item = ds[0]
        assert item['inputs'].shape == (3, CROP, CROP)
        assert tuple(item['data_samples'].gt_img.shape) == (3, CROP, CROP)
        x = item['inputs']
        assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    t = RandomCropOrPad(keys=['img'], crop_size=8)
    assert t(dict(img=np.zeros((10, 10, 1), np.uint8)))['img'].shape == (8, 8, 3)


@pytest.mark.parametrize('kwargs, match', [
    (dict(crop_size=0), 'crop_size'),
    (dict(crop_size=(64, )), 'crop_size'),
    (dict(crop_size=12.5), 'crop_size'),
    (dict(pad_mode='stretch'), 'pad_mode'),
    (dict(keys=[]), 'keys'),
])
def test_transform_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomCropOrPad(**kwargs)


def test_transform_missing_key_and_bad_shape():
    t = RandomCropOrPad(keys=['gt'], crop_size=8)
    with pytest.raises(KeyError, match="LoadImageFromFile\\(key='gt'\\)"):
        t(dict(img=np.zeros((10, 10, 3), np.uint8)))
    with pytest.raises(ValueError, match='gt'):
        t(dict(gt=np.zeros((10, 10, 4), np.uint8)))


def test_demo_datasets_build_the_demo_data(tmp_path):
    root = str(tmp_path / 'nlcl_demo')
    train = DATASETS.build(dict(type='DemoUnpairedRainDataset', data_root=root,
                                pipeline=pipeline()))
    assert len(train) == max(train.num_rainy, train.num_clean) >= 20
    assert train[0]['inputs'].shape == (3, CROP, CROP)
    test = DATASETS.build(dict(type='DemoPairedRainDataset', data_root=root + '/test'))
    item = test[0]
    assert item['inputs'].shape == tuple(item['data_samples'].gt_img.shape)
    assert osp.basename(item['data_samples'].img_path) == \
        osp.basename(item['data_samples'].gt_path)
    with pytest.raises(ValueError, match='demo_root'):
        DATASETS.build(dict(type='DemoPairedRainDataset', data_root=root))


def test_demo_datasets_build_the_layout_the_config_names(tmp_path):
    """configs/nlcl_demo_same_places.py's datasets build the same-places layout (clean
    cells of the rainy photographs, no other photograph) and the demo's test split."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                   'configs', 'nlcl_demo_same_places.py'))
    root = str(tmp_path / 'sp')
    ds = dict(cfg.train_dataloader.dataset, data_root=root, pipeline=pipeline())
    with DefaultScope.overwrite_default_scope('mmagic'):
        train = DATASETS.build(ds)
        test = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=root + '/test'))
    assert (train.num_rainy, train.num_clean) == (48, 22)
    assert {osp.basename(p).split('_')[1] for p in train._clean_paths} == \
        {'astronaut', 'motorcycle', 'china'}
    assert len(test) == 20
