"""Bad and odd image files: safe conversions, clear errors, skipped files, tiny images."""
import os
import pickle

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from PIL import Image, ImageOps

import nlcl_plugin.mmagic  # noqa: F401
from mmagic.registry import DATASETS, TRANSFORMS
from nlcl_plugin.image_io import ImageReadError, read_image, sniff_image
from nlcl_plugin.mmagic.datasets import (DataFolderError, LoadRGBImage, RandomCropOrPad,
                                         reset_load_statistics, unreadable_files)
from nlcl_plugin.mmagic.datasets import loading as loading_module

from rb_helpers import make_paired, truncated_png, write_rgb


@pytest.fixture
def logged(monkeypatch):
    """Messages of LoadRGBImage (mmengine's logger does not propagate to caplog)."""
    messages = []
    monkeypatch.setattr(loading_module, 'print_log',
                        lambda msg, logger=None, level=None: messages.append(msg))
    reset_load_statistics()
    yield messages
    reset_load_statistics()


def odd_files(folder):
    """Every kind of odd but usable image; returns {name: expected RGB array}."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    alpha = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    expected = {}
    cv2.imwrite(f'{folder}/gray.png', gray)
    expected['gray.png'] = np.repeat(gray[:, :, None], 3, axis=2)
    Image.fromarray(np.dstack([rgb, alpha]), 'RGBA').save(f'{folder}/rgba.png')
    expected['rgba.png'] = rgb  # alpha dropped, colour values kept
    Image.fromarray(np.dstack([gray, alpha]), 'LA').save(f'{folder}/gray_alpha.png')
    expected['gray_alpha.png'] = np.repeat(gray[:, :, None], 3, axis=2)
    pal = Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE, colors=16)
    pal.save(f'{folder}/palette.png')
    expected['palette.png'] = np.asarray(pal.convert('RGB'))
    pal_t = pal.copy()
    pal_t.info['transparency'] = 0
    pal_t.save(f'{folder}/palette_transparent.png', transparency=0)
    expected['palette_transparent.png'] = np.asarray(pal.convert('RGB'))
    # 16-bit values that truncation (>> 8) would get wrong: 257 * v + 200 -> v + 1
    deep = rgb.astype(np.uint16) // 2 * 257 + 200
    cv2.imwrite(f'{folder}/deep16.png', deep[:, :, ::-1])
    expected['deep16.png'] = (rgb // 2 + 1).astype(np.uint8)
    deep_gray = np.full((9, 11), 65535, np.uint16)
    cv2.imwrite(f'{folder}/deep16_gray.png', deep_gray)
    expected['deep16_gray.png'] = np.full((9, 11, 3), 255, np.uint8)
    write_rgb(f'{folder}/one_pixel.png', 1, 1, seed=5)
    expected['one_pixel.png'] = np.asarray(Image.open(f'{folder}/one_pixel.png').convert('RGB'))
    return expected


def test_read_image_converts_every_kind_safely(tmp_path):
    expected = odd_files(str(tmp_path))
    for name, want in expected.items():
        got, notes = read_image(str(tmp_path / name))
        assert got.dtype == np.uint8 and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert read_image(str(tmp_path / 'deep16.png'))[1] == ['16-bit converted to 8-bit']
    assert 'RGBA converted to RGB (alpha dropped)' in read_image(str(tmp_path / 'rgba.png'))[1]
    assert read_image(str(tmp_path / 'gray.png'))[1] == ['grayscale converted to RGB']


@pytest.mark.parametrize('orientation', range(1, 9))
def test_exif_orientation_as_opencv_and_pil_display_it(tmp_path, orientation):
    rgb = np.random.default_rng(orientation).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    rgb[:4, :6] = 255  # a marker in one corner
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = orientation
    path = str(tmp_path / 'o.jpg')
    im.save(path, exif=exif, quality=95)
    got, notes = read_image(path, exif_orientation=True)
    # OpenCV's IMREAD_COLOR (what MMagic's LoadImageFromFile uses) applies EXIF too
    np.testing.assert_array_equal(got, cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1])
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert('RGB'))
    assert got.shape == shown.shape
    assert np.abs(got.astype(int) - shown.astype(int)).mean() < 3
    assert (notes == ['EXIF orientation applied']) == (orientation != 1)
    stored, _ = read_image(path)  # default: stored pixels
    assert stored.shape == (12, 20, 3)


def test_unreadable_files_raise_naming_the_file(tmp_path):
    truncated_png(tmp_path / 'cut.png')
    ok, buf = cv2.imencode('.jpg', np.zeros((32, 32, 3), np.uint8))
    (tmp_path / 'cut.jpg').write_bytes(buf.tobytes()[:len(buf) // 2])
    (tmp_path / 'text.png').write_text('not an image at all')
    (tmp_path / 'empty.png').write_bytes(b'')
    for name in ('cut.png', 'cut.jpg', 'text.png', 'empty.png', 'missing.png'):
        with pytest.raises(ImageReadError) as err:
            read_image(str(tmp_path / name))
        assert err.value.path == str(tmp_path / name) and name in str(err.value)
        # survives pickling and a DataLoader worker's one-argument re-raise
        again = pickle.loads(pickle.dumps(err.value))
        assert (again.path, again.reason) == (err.value.path, err.value.reason)
        assert str(ImageReadError(str(err.value))) == str(err.value)
    # the cheap up-front check catches what needs no decoding
    assert sniff_image(str(tmp_path / 'empty.png')) == 'empty file'
    assert 'not an image' in sniff_image(str(tmp_path / 'text.png'))
    assert 'cannot open' in sniff_image(str(tmp_path / 'missing.png'))
    assert sniff_image(str(tmp_path / 'cut.png')) is None  # needs decoding to tell


def test_load_rgb_image_logs_each_conversion_kind_once(tmp_path, logged):
    expected = odd_files(str(tmp_path))
    load = LoadRGBImage(key='img')
    for name, want in expected.items():
        out = load(dict(img_path=str(tmp_path / name)))
        np.testing.assert_array_equal(out['img'], want)
        assert out['img_channel_order'] == 'rgb' and out['ori_img_shape'] == want.shape
    cv2.imwrite(str(tmp_path / 'gray2.png'), np.zeros((5, 5), np.uint8))
    load(dict(img_path=str(tmp_path / 'gray2.png')))
    gray_lines = [m for m in logged if 'grayscale converted to RGB' in m]
    assert len(gray_lines) == 1 and 'gray.png' in gray_lines[0]
    assert sum('16-bit converted to 8-bit' in m for m in logged) == 1


def test_load_rgb_image_matches_mmagic_loader_on_plain_files(tmp_path):
    write_rgb(tmp_path / 'a.png', 13, 17)
    write_rgb(tmp_path / 'b.jpg', 16, 24, seed=3)
    with DefaultScope.overwrite_default_scope('mmagic'):
        theirs = TRANSFORMS.build(dict(type='LoadImageFromFile', key='img', color_type='color',
                                       channel_order='rgb', imdecode_backend='cv2'))
        ours = TRANSFORMS.build(dict(type='LoadRGBImage', key='img'))
    for name in ('a.png', 'b.jpg'):
        a = theirs(dict(img_path=str(tmp_path / name)))
        b = ours(dict(img_path=str(tmp_path / name)))
        np.testing.assert_array_equal(a['img'], b['img'])
        for key in ('ori_img_shape', 'img_channel_order', 'img_color_type'):
            assert a[key] == b[key], key


def test_load_rgb_image_skip_or_raise(tmp_path, logged):
    truncated_png(tmp_path / 'cut.png')
    with pytest.raises(ImageReadError, match='cut.png'):
        LoadRGBImage(key='gt')(dict(gt_path=str(tmp_path / 'cut.png')))
    skip = LoadRGBImage(key='gt', on_error='skip')
    assert skip(dict(gt_path=str(tmp_path / 'cut.png'))) is None
    assert skip(dict(gt_path=str(tmp_path / 'cut.png'))) is None  # logged once
    (tmp_path / 'text.jpg').write_text('hello')
    assert skip(dict(gt_path=str(tmp_path / 'text.jpg'))) is None
    warnings = [m for m in logged if 'skipped unreadable image' in m]
    assert len(warnings) == 2
    assert 'cut.png' in warnings[0] and '(1 unreadable file(s) skipped' in warnings[0]
    assert 'text.jpg' in warnings[1] and '(2 unreadable file(s) skipped' in warnings[1]
    assert set(unreadable_files()) == {str(tmp_path / 'cut.png'), str(tmp_path / 'text.jpg')}
    with pytest.raises(ValueError, match='on_error'):
        LoadRGBImage(on_error='ignore')


def _unpaired(root, pipeline=(), **kwargs):
    with DefaultScope.overwrite_default_scope('mmagic'):
        return DATASETS.build(dict(type='UnpairedRainDataset', data_root=str(root),
                                   pipeline=list(pipeline), **kwargs))


TRAIN_PIPELINE = [
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size=16),
    dict(type='PackInputs'),
]


def test_training_data_of_every_kind_trains_and_bad_files_are_skipped(tmp_path, logged):
    from nlcl_plugin.mmagic.datasets import unpaired_rain_dataset as urd
    build_warnings = []
    orig = urd.print_log
    urd.print_log = lambda msg, logger=None, level=None: build_warnings.append(msg)
    try:
        odd_files(str(tmp_path / 'train_rainy'))
        (tmp_path / 'train_rainy' / 'empty.png').write_bytes(b'')
        (tmp_path / 'train_rainy' / 'notes.jpg').write_text('not an image')
        truncated_png(tmp_path / 'train_rainy' / 'cut.png')
        write_rgb(tmp_path / 'train_clean' / 'c0.png', 20, 20)
        truncated_png(tmp_path / 'train_clean' / 'c_cut.png')
        np.random.seed(0)
        dataset = _unpaired(tmp_path, TRAIN_PIPELINE)
    finally:
        urd.print_log = orig
    # build time: the hopeless files are left out, named in one warning
    assert len(build_warnings) == 1 and 'empty.png (empty file)' in build_warnings[0]
    assert 'notes.jpg' in build_warnings[0]
    assert {p.split('/')[-1] for p, _ in dataset.unusable_files} == {'empty.png', 'notes.jpg'}
    assert dataset.num_rainy == 8 + 1  # the 8 odd files + cut.png (caught at load)
    # load time: every item is a valid crop; truncated files are skipped, not returned
    for i in range(len(dataset)):
        item = dataset[i]
        assert item['inputs'].shape == (3, 16, 16) and item['inputs'].dtype == torch.uint8
        assert item['data_samples'].gt_img.shape == (3, 16, 16)
        assert not item['data_samples'].img_path.endswith('cut.png')
        assert not item['data_samples'].gt_path.endswith('c_cut.png')
    assert str(tmp_path / 'train_rainy' / 'cut.png') in unreadable_files()
    assert any('skipped unreadable image' in m and 'cut.png' in m for m in logged)


def test_folders_without_usable_images_stop_before_training(tmp_path):
    write_rgb(tmp_path / 'train_clean' / 'c.png', 8, 8)
    # only unsupported files: the error names the folder, the key and what is there
    (tmp_path / 'train_rainy').mkdir()
    (tmp_path / 'train_rainy' / 'a.gif').write_bytes(b'GIF89a')
    (tmp_path / 'train_rainy' / 'readme.txt').write_text('x')
    with pytest.raises(DataFolderError) as err:
        _unpaired(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / 'train_rainy') in msg and 'data_prefix.rainy' in msg
    assert '.gif' in msg and '.txt' in msg
    # only unusable image files
    (tmp_path / 'train_rainy' / 'x.png').write_bytes(b'')
    (tmp_path / 'train_rainy' / 'y.jpg').write_text('html')
    with pytest.raises(DataFolderError, match='none of the 2 rainy image files') as err:
        _unpaired(tmp_path)
    assert 'x.png (empty file)' in str(err.value) and 'data_prefix.rainy' in str(err.value)
    # missing and empty folders (FileNotFoundError for callers that expect it)
    with pytest.raises(FileNotFoundError, match='data_prefix.clean'):
        _unpaired(tmp_path, data_prefix=dict(rainy='train_clean', clean='nope'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataFolderError, match='data_prefix.clean'):
        _unpaired(tmp_path, data_prefix=dict(rainy='train_clean', clean='empty'))


def test_every_retry_failing_names_the_files(tmp_path, logged):
    truncated_png(tmp_path / 'train_rainy' / 'r.png')
    truncated_png(tmp_path / 'train_clean' / 'c.png')
    dataset = _unpaired(tmp_path, TRAIN_PIPELINE, max_refetch=3)
    with pytest.raises(RuntimeError, match='no readable rainy/clean pair') as err:
        dataset[0]
    assert 'r.png' in str(err.value)


@pytest.mark.parametrize('hw', [(1, 1), (1, 5), (2, 1), (3, 3)])
@pytest.mark.parametrize('mode', ['reflect', 'resize'])
def test_tiny_images_give_full_crops(hw, mode):
    img = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    out = RandomCropOrPad(keys=['img'], crop_size=(24, 20), pad_mode=mode)(dict(img=img))
    assert out['img'].shape == (24, 20, 3)
    if hw == (1, 1):  # nothing to mirror: replicated
        assert (out['img'] == img[0, 0]).all()
    if mode == 'reflect':  # only the image's own values
        assert set(np.unique(out['img'])) <= set(np.unique(img))


def test_evaluation_sets_report_bad_files_by_path(tmp_path):
    root = make_paired(tmp_path / 'set', n=3)
    os.remove(f'{root}/target/1.png')  # a missing partner
    (tmp_path / 'set' / 'target' / '2.png').write_bytes(b'')
    cfg = dict(type='CheckedImageDataset', data_root=root,
               data_prefix=dict(img='input', gt='target'),
               metainfo=dict(dataset_type='MySet', task_name='deraining'),
               pipeline=[dict(type='LoadRGBImage', key='img'),
                         dict(type='LoadRGBImage', key='gt'), dict(type='PackInputs')])
    with DefaultScope.overwrite_default_scope('mmagic'):
        with pytest.raises(DataFolderError) as err:
            DATASETS.build(cfg)
        msg = str(err.value)
        assert 'MySet' in msg and 'data_prefix.gt' in msg
        assert 'target/1.png (cannot open' in msg and 'target/2.png (empty file)' in msg
        # files that only fail when decoded are named when loaded
        write_rgb(tmp_path / 'set' / 'target' / '1.png', 36, 40)
        truncated_png(tmp_path / 'set' / 'target' / '2.png')
        dataset = DATASETS.build(cfg)
        paths = [dataset.get_data_info(i)['gt_path'] for i in range(len(dataset))]
        bad = paths.index(str(tmp_path / 'set' / 'target' / '2.png'))
        dataset[(bad + 1) % 3]
        with pytest.raises(ImageReadError, match='target/2.png'):
            dataset[bad]
