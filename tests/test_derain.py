"""tools/derain.py: parity with the authors' released outputs, and bad input."""
import glob
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from nlcl_plugin.image_io import ImageReadError, read_image
from nlcl_plugin.models import DecompositionGenerator


def run_tool(repo_root, *args):
    tool = osp.join(repo_root, 'tools', 'derain.py')
    return subprocess.run([sys.executable, tool, *map(str, args), '--no-progress'],
                          capture_output=True, text=True)


def test_parity_with_official_outputs(official_dir, repo_root, tmp_path):
    rainy = sorted(glob.glob(osp.join(official_dir, 'rainy', '*.JPG')))
    assert len(rainy) == 7
    res = run_tool(repo_root, osp.join(official_dir, 'rainy'), '--checkpoint',
                   osp.join(official_dir, 'checkpoints', 'latest_net_Back.pth'), '--out-dir',
                   tmp_path)
    assert res.returncode == 0, res.stderr
    for path in rainy:
        stem = osp.splitext(osp.basename(path))[0]
        ours = cv2.imread(str(tmp_path / f'{stem}.png'))
        ref = cv2.imread(osp.join(official_dir, 'derained', f'{stem}.png'))
        assert ours.shape == ref.shape == cv2.imread(path).shape
        diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
        assert diff.max() <= 1, f'{stem}: max difference {diff.max()} grey levels'
        psnr = 10 * np.log10(255.0**2 / max(np.mean(diff.astype(np.float64)**2), 1e-12))
        assert psnr >= 50.0, f'{stem}: PSNR {psnr:.2f} dB'


@pytest.fixture(scope='module')
def random_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'plugin.pth'
    state = {
        **{f'generator.{k}': v for k, v in DecompositionGenerator().state_dict().items()},
        **{f'rain_generator.{k}': v for k, v in DecompositionGenerator().state_dict().items()}
    }
    torch.save({'state_dict': state}, path)
    return path


def make_inputs(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    sub = folder / 'sub'
    sub.mkdir()
    cv2.imwrite(str(folder / 'odd.png'), rng.integers(0, 255, (17, 23, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / 'gray.png'), rng.integers(0, 255, (20, 30), dtype=np.uint8))
    cv2.imwrite(str(folder / 'rgba.png'), rng.integers(0, 255, (21, 19, 4), dtype=np.uint8))
    cv2.imwrite(str(folder / 'deep.png'), rng.integers(0, 65535, (16, 18, 3), dtype=np.uint16))
    cv2.imwrite(str(sub / 'odd.jpg'), rng.integers(0, 255, (33, 31, 3), dtype=np.uint8))
    (folder / 'text.png').write_text('not an image')
    ok, buf = cv2.imencode('.jpg', rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (folder / 'trunc.jpg').write_bytes(buf.tobytes()[:len(buf) // 2])
    (folder / 'notes.txt').write_text('ignored: not an image extension')


def test_bad_and_odd_inputs(repo_root, random_ckpt, tmp_path):
    inp = tmp_path / 'in'
    make_inputs(inp)
    out = tmp_path / 'out'
    res = run_tool(repo_root, inp, tmp_path / 'missing.png', '--checkpoint', random_ckpt,
                   '--out-dir', out, '--save-rain')
    assert res.returncode == 1
    # every readable image is written at its own size, including the sub-folder one
    expected = {'odd': (17, 23), 'gray': (20, 30), 'rgba': (21, 19), 'deep': (16, 18),
                'odd-2': (33, 31)}
    for stem, hw in expected.items():
        img = cv2.imread(str(out / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        assert img.shape == (*hw, 3) and img.dtype == np.uint8, stem
        assert cv2.imread(str(out / f'{stem}_rain.png')).shape == (*hw, 3)
    assert not (out / 'text.png').exists() and not (out / 'trunc.png').exists()
    # failures are listed by path at the end; conversions are said
    tail = res.stderr[res.stderr.index('failure(s)'):]
    for name in ('text.png', 'trunc.jpg', 'missing.png'):
        assert name in tail
    assert 'grayscale converted to RGB' in res.stderr
    assert 'RGBA converted to RGB' in res.stderr
    assert '16-bit converted to 8-bit' in res.stderr
    assert 'derained 5/7 images' in res.stdout


def test_wrong_checkpoint_is_a_clear_error(repo_root, tmp_path):
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), np.zeros((20, 20, 3), np.uint8))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'garbage')
    res = run_tool(repo_root, img, '--checkpoint', bad, '--out-dir', tmp_path / 'o')
    assert res.returncode == 2
    assert 'bad.pth' in res.stderr and 'Traceback' not in res.stderr
    empty = tmp_path / 'empty'
    empty.mkdir()
    res = run_tool(repo_root, empty, '--checkpoint', bad, '--out-dir', tmp_path / 'o')
    assert res.returncode == 2 and 'no image files' in res.stderr


def test_read_image_conversions(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (5, 6, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), rgb[:, :, ::-1])
    out, notes = read_image(str(tmp_path / 'a.png'))
    assert notes == [] and np.array_equal(out, rgb)
    deep = (rgb.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / 'd.png'), deep[:, :, ::-1])
    out, notes = read_image(str(tmp_path / 'd.png'))
    assert np.array_equal(out, rgb) and notes == ['16-bit converted to 8-bit']
    from PIL import Image
    Image.fromarray(rgb).convert('P').save(tmp_path / 'p.png')
    out, _ = read_image(str(tmp_path / 'p.png'))
    assert np.array_equal(out, np.asarray(Image.open(tmp_path / 'p.png').convert('RGB')))
    (tmp_path / 'z.png').write_bytes(b'')
    with pytest.raises(ImageReadError, match='z.png: empty file'):
        read_image(str(tmp_path / 'z.png'))
    with pytest.raises(ImageReadError, match='nope.png'):
        read_image(str(tmp_path / 'nope.png'))


def test_files_that_are_not_generator_checkpoints(repo_root, tmp_path):
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    noise = tmp_path / 'noise.pth'
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    res = run_tool(repo_root, img, '--checkpoint', noise, '--out-dir', tmp_path / 'o')
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert f'{noise} is not a PyTorch checkpoint' in res.stderr
    foreign = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {'backbone.conv.weight': torch.zeros(1), 'head.bias': torch.zeros(1)},
                'meta': {}}, foreign)
    res = run_tool(repo_root, img, '--checkpoint', foreign, '--out-dir', tmp_path / 'o')
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert ("a checkpoint without generator weights: keys ['backbone.conv.weight', 'head.bias']"
            in res.stderr)


def test_tiny_images_and_passed_over_files(repo_root, random_ckpt, tmp_path):
    inp = tmp_path / 'in'
    inp.mkdir()
    rng = np.random.default_rng(1)
    sizes = {'one': (1, 1), 'row': (1, 9), 'col': (5, 1), 'small': (3, 2), 'edge': (16, 15)}
    for stem, hw in sizes.items():
        cv2.imwrite(str(inp / f'{stem}.png'), rng.integers(0, 255, (*hw, 3), dtype=np.uint8))
    (inp / 'anim.gif').write_bytes(b'GIF89a')
    (inp / 'other.GIF').write_bytes(b'GIF89a')
    (inp / 'README').write_text('no extension')
    out = tmp_path / 'out'
    res = run_tool(repo_root, inp, '--checkpoint', random_ckpt, '--out-dir', out, '--save-rain')
    assert res.returncode == 0, res.stderr
    for stem, hw in sizes.items():
        assert cv2.imread(str(out / f'{stem}.png')).shape == (*hw, 3), stem
        assert cv2.imread(str(out / f'{stem}_rain.png')).shape == (*hw, 3), stem
    assert 'passed over 3 files in folders (.gif: 2, no extension: 1)' in res.stderr
    assert f'derained {len(sizes)}/{len(sizes)} images' in res.stdout
    help_text = run_tool(repo_root, '--help').stdout
    for ext in ('.png', '.jpg', '.tiff', '.webp'):
        assert ext in help_text


def test_derainer_pads_small_images_as_training_does():
    from nlcl_plugin.inference import Derainer, pad_reflect
    rng = np.random.default_rng(2)
    for h, w in [(1, 1), (1, 6), (2, 3), (7, 20), (16, 16)]:
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        padded, (top, left, hh, ww) = pad_reflect(img, 16)
        pad_h, pad_w = max(0, 16 - h), max(0, 16 - w)
        expected = np.pad(img, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                                (0, 0)), mode='reflect')
        np.testing.assert_array_equal(padded, expected)
        np.testing.assert_array_equal(padded[top:top + hh, left:left + ww], img)
        tensor = torch.from_numpy(img).permute(2, 0, 1)[None]
        np.testing.assert_array_equal(pad_reflect(tensor, 16)[0][0].permute(1, 2, 0).numpy(),
                                      expected)
    torch.manual_seed(0)
    derainer = Derainer(DecompositionGenerator(), DecompositionGenerator(), tile=0)
    img = rng.integers(0, 255, (5, 3, 3), dtype=np.uint8)
    bg, rain = derainer(img)
    assert bg.shape == rain.shape == (5, 3, 3)
    # the same as running the network on the padded image and cropping
    padded, (top, left, h, w) = pad_reflect(img, 16)
    bg_padded, _ = Derainer(derainer.background, min_size=2, tile=0)(padded)
    np.testing.assert_array_equal(bg, bg_padded[top:top + h, left:left + w])
    assert derainer.forward_tensor(derainer.background, torch.zeros(1, 3, 1, 1)).shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match='min_size'):
        Derainer(DecompositionGenerator(), min_size=1)
