"""The BasicSR adapter's dataset and tools/derain.py with bad and odd images."""
import logging

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from rb_helpers import run_tool, truncated_png, write_rgb

pytest.importorskip('basicsr')


def test_basicsr_dataset_converts_skips_and_reports(tmp_path, caplog):
    from nlcl_plugin.basicsr.nlcl_dataset import UnpairedRainImageDataset
    rainy, clean = tmp_path / 'rainy', tmp_path / 'clean'
    write_rgb(rainy / 'rgb.png', 20, 24)
    cv2.imwrite(str(rainy / 'gray.png'), np.full((10, 12), 7, np.uint8))
    cv2.imwrite(str(rainy / 'gray2.png'), np.full((10, 12), 9, np.uint8))
    Image.fromarray(np.zeros((9, 9, 4), np.uint8), 'RGBA').save(rainy / 'rgba.png')
    cv2.imwrite(str(rainy / 'deep.png'), np.full((8, 8, 3), 65535, np.uint16))
    write_rgb(rainy / 'dot.png', 1, 1)
    truncated_png(rainy / 'cut.png')
    (rainy / 'empty.png').write_bytes(b'')
    (rainy / 'page.jpg').write_text('<html></html>')
    write_rgb(clean / 'c.png', 16, 16)
    opt = dict(name='t', phase='train', dataroot_rainy=str(rainy),
               dataroot_clean=str(clean), crop_size=16)
    with caplog.at_level(logging.INFO, logger='basicsr'):
        ds = UnpairedRainImageDataset(opt)
        # left out when built, named in one warning
        assert len(ds) == 7 and not any(p.endswith(('empty.png', 'page.jpg'))
                                        for p in ds.rainy_paths)
        built = [r.message for r in caplog.records if 'left out' in r.message]
        assert len(built) == 1 and 'empty.png (empty file)' in built[0]
        for i in range(len(ds)):
            item = ds[i]
            assert item['lq'].shape == item['gt'].shape == (3, 16, 16)
            assert not item['lq_path'].endswith('cut.png')
            assert torch.isfinite(item['lq']).all()
    messages = [r.message for r in caplog.records]
    assert sum('skipped unreadable image' in m and 'cut.png' in m for m in messages) == 1
    assert '(1 unreadable file(s) skipped so far' in ' '.join(messages)
    assert sum('grayscale converted to RGB' in m for m in messages) == 1
    assert any('16-bit converted to 8-bit' in m for m in messages)
    assert list(ds.unreadable) == [str(rainy / 'cut.png')]
    # only unusable files: an error naming the folder and the option
    bad = tmp_path / 'bad'
    (bad).mkdir()
    (bad / 'a.png').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match=r'none of the 1 .*dataroot_clean'):
        UnpairedRainImageDataset(dict(opt, dataroot_clean=str(bad)))


def test_derain_tool_with_odd_and_bad_files(tmp_path):
    from nlcl_plugin.models import DecompositionGenerator
    torch.manual_seed(0)
    ckpt = tmp_path / 'g.pth'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in
                               DecompositionGenerator(mid_channels=32).state_dict().items()}},
               ckpt)
    inp = tmp_path / 'in'
    rgb = write_rgb(inp / 'rgb.png', 12, 14)
    Image.fromarray(rgb).convert('P').save(inp / 'palette.png')
    Image.fromarray(np.zeros((10, 11, 2), np.uint8)[:, :, 0], 'L').convert('LA').save(
        inp / 'la.png')
    write_rgb(inp / 'dot.png', 1, 1)
    truncated_png(inp / 'cut.png')
    res = run_tool(tmp_path, 'derain.py', inp, '--checkpoint', ckpt, '--out-dir',
                   tmp_path / 'out', '--no-progress')
    assert res.returncode == 1 and 'Traceback' not in res.stderr, res.stderr[-2000:]
    # a 1x1 image is padded as training pads and cropped back
    for stem, hw in (('rgb', (12, 14)), ('palette', (12, 14)), ('la', (10, 11)), ('dot', (1, 1))):
        assert cv2.imread(str(tmp_path / 'out' / f'{stem}.png')).shape == (*hw, 3), stem
    tail = res.stderr[res.stderr.index('failure(s)'):]
    assert str(inp / 'cut.png') in tail and str(inp / 'dot.png') not in tail
    assert 'derained 4/5 images' in res.stdout
    # a folder of only unsupported files
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'a.gif').write_bytes(b'GIF89a')
    res = run_tool(tmp_path, 'derain.py', other, '--checkpoint', ckpt, '--out-dir',
                   tmp_path / 'out2', '--no-progress')
    assert res.returncode == 2 and f'{other}: folder contains no image files' in res.stderr
