"""Evaluation for MMagic: the no-reference NIQE and the loop that skips missing test sets."""
import glob
import os
import os.path as osp
import zlib

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('mmagic')

from mmengine.config import Config  # noqa: E402
from torch import nn  # noqa: E402

from nlcl_plugin.mmagic.evaluation import (AvailableSetsTestLoop,  # noqa: E402
                                           NoReferenceNIQE, find_missing_data,
                                           select_available_sets)
from mmagic.evaluation.metrics import NIQE, psnr  # noqa: E402
from mmagic.registry import LOOPS, METRICS, MODELS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TEST_SETS_CFG = osp.join(REPO, 'configs', '_base_', 'datasets', 'deraining_test_sets.py')
PAIRED_SETS = ['Rain100H', 'Rain100L', 'Test100', 'Test1200', 'Test2800', 'SPA-Data']


# ----------------------------------------------------------------------------- images
def natural_bgr(h=192, w=288):
    """A photograph (scikit-image's coffee, shipped in the wheel) as uint8 BGR."""
    data = pytest.importorskip('skimage.data')
    rgb = data.coffee()[:h, :w]
    return np.ascontiguousarray(rgb[..., ::-1])


def noisy(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    out = img.astype(np.float64) + rng.normal(0, sigma, img.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def as_sample(bgr, with_gt=True, path='img.png'):
    """A data sample as MMagic's evaluator hands it to metrics (dict, CHW float BGR)."""
    chw = torch.from_numpy(bgr.transpose(2, 0, 1).astype(np.float32))
    sample = dict(output=dict(pred_img=chw), img_path=path)
    if with_gt:
        sample['gt_img'] = chw.clone()
    return sample


# ----------------------------------------------------------------------------- NIQE
def test_registered():
    assert METRICS.get('NoReferenceNIQE') is NoReferenceNIQE
    assert LOOPS.get('AvailableSetsTestLoop') is AvailableSetsTestLoop
    assert LOOPS.get('AvailableSetsValLoop') is not None


@pytest.mark.parametrize('convert_to,crop_border', [('y', 0), ('gray', 0), ('Y', 8)])
def test_niqe_equals_mmagic_niqe(convert_to, crop_border):
    samples = [as_sample(natural_bgr()), as_sample(noisy(natural_bgr(), 20))]
    kwargs = dict(input_order='CHW', convert_to=convert_to, crop_border=crop_border)
    ref, ours = NIQE(**kwargs), NoReferenceNIQE(**kwargs)
    ref.process(None, samples)
    ours.process(None, samples)
    assert [r['NIQE'] for r in ours.results] == [float(r['NIQE']) for r in ref.results]
    assert ours.compute_metrics(ours.results) == pytest.approx(ref.compute_metrics(ref.results),
                                                               rel=1e-12)


def test_niqe_without_ground_truth():
    with_gt = [as_sample(natural_bgr())]
    without_gt = [as_sample(natural_bgr(), with_gt=False)]
    with pytest.raises(KeyError):  # MMagic's NIQE insists on gt_img
        NIQE(input_order='CHW').process(None, without_gt)
    a, b = NoReferenceNIQE(), NoReferenceNIQE()
    a.process(None, with_gt)
    b.process(None, without_gt)
    assert a.results == b.results and np.isfinite(b.results[0]['NIQE'])


def test_niqe_prefers_natural_images():
    metric = NoReferenceNIQE()
    metric.process(None, [as_sample(natural_bgr()), as_sample(noisy(natural_bgr(), 60))])
    clean, heavy_noise = (r['NIQE'] for r in metric.results)
    assert clean < heavy_noise


def test_niqe_frames_are_averaged():
    frames = [natural_bgr(), noisy(natural_bgr(), 30)]
    single = NoReferenceNIQE()
    single.process(None, [as_sample(f, with_gt=False) for f in frames])
    video = NoReferenceNIQE()
    stack = torch.stack([as_sample(f)['output']['pred_img'] for f in frames])
    video.process(None, [dict(output=dict(pred_img=stack))])
    assert video.results[0]['NIQE'] == pytest.approx(
        np.mean([r['NIQE'] for r in single.results]), rel=1e-12)


def test_niqe_clear_errors():
    with pytest.raises(ValueError, match='convert_to'):
        NoReferenceNIQE(convert_to='rgb')
    with pytest.raises(ValueError, match='input_order'):
        NoReferenceNIQE(input_order='HW')
    with pytest.raises(ValueError, match='crop_border'):
        NoReferenceNIQE(crop_border=-1)
    small = natural_bgr(96, 96)
    with pytest.raises(ValueError, match=r'tiny\.png is 96x96.*two 96x96 blocks'):
        NoReferenceNIQE().process(None, [as_sample(small, path='tiny.png')])
    with pytest.raises(ValueError, match='crop_border=4'):
        NoReferenceNIQE(crop_border=4).process(None, [as_sample(natural_bgr(96, 192))])
    with pytest.raises(KeyError, match='output.pred_rain'):
        NoReferenceNIQE(key='pred_rain').process(None, [as_sample(natural_bgr())])


# ----------------------------------------------------------------------------- test sets
@MODELS.register_module(name='EvaluationTestIdentity', force=True)
class Identity(nn.Module):
    """A generator returning its input (so PSNR is that of the rainy input)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x


def write_set(root, name, sigma, n=2, size=(48, 64), paired=True):
    """``n`` rainy (noisy) images in ``root/name/input`` and, if paired, the clean ones
    under the same names in ``root/name/target``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for i in range(n):
        clean = cv2.resize(natural_bgr(), size[::-1], interpolation=cv2.INTER_AREA)
        clean = np.roll(clean, 7 * i, axis=1)
        rainy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(osp.join(_mkdir(root, name, 'input'), f'{i:03d}.png'), rainy)
        if paired:
            cv2.imwrite(osp.join(_mkdir(root, name, 'target'), f'{i:03d}.png'), clean)


def _mkdir(*parts):
    path = osp.join(*map(str, parts))
    os.makedirs(path, exist_ok=True)
    return path


def expected_psnr(set_dir):
    values = []
    for path in sorted(glob.glob(osp.join(set_dir, 'input', '*.png'))):
        gt = cv2.imread(path.replace(osp.sep + 'input' + osp.sep, osp.sep + 'target' + osp.sep))
        values.append(psnr(gt, cv2.imread(path), convert_to='Y', channel_order='BGR'))
    return float(np.mean(values))


def test_sets_config():
    """The config pairs every dataloader with an evaluator whose metrics carry its name."""
    cfg = Config.fromfile(TEST_SETS_CFG)
    assert cfg.test_cfg.type == 'AvailableSetsTestLoop'
    assert len(cfg.test_dataloader) == len(cfg.test_evaluator) == 7
    names = [d.dataset.metainfo.dataset_type for d in cfg.test_dataloader]
    assert names == PAIRED_SETS + ['RealRain']
    for loader, metrics, name in zip(cfg.test_dataloader, cfg.test_evaluator, names):
        assert {m.prefix for m in metrics} == {name}
        assert loader.num_workers <= 2 and loader.dataset.type == 'BasicImageDataset'
        if name == 'RealRain':
            assert loader.dataset.data_root == 'data/real_rain/test_real'
            assert loader.dataset.data_prefix == dict(img='input')
            assert [m.type for m in metrics] == ['NoReferenceNIQE']
        else:
            assert loader.dataset.data_root == f'data/{name}'
            assert loader.dataset.data_prefix == dict(img='input', gt='target')
            assert [(m.type, m.convert_to) for m in metrics] == [('PSNR', 'Y'), ('SSIM', 'Y')]


def config_for(data_root):
    """The test-sets config with every ``data/`` path moved under ``data_root``."""
    cfg = Config.fromfile(TEST_SETS_CFG)
    for loader in cfg.test_dataloader:
        loader.num_workers = 0
        loader.dataset.data_root = osp.join(data_root, loader.dataset.data_root[len('data/'):])
    return cfg


def build_runner(work_dir, cfg, val=False, allow_empty=False, visualize=False):
    from mmengine.runner import Runner
    loops = dict(test_dataloader=cfg.test_dataloader, test_evaluator=cfg.test_evaluator,
                 test_cfg=cfg.test_cfg)
    if val:
        loops.update(val_dataloader=cfg.test_dataloader, val_evaluator=cfg.test_evaluator,
                     val_cfg=dict(type='AvailableSetsValLoop', allow_empty=allow_empty))
    return Runner(
        model=dict(
            type='BaseEditModel',
            generator=dict(type='EvaluationTestIdentity'),
            pixel_loss=dict(type='L1Loss'),
            data_preprocessor=dict(type='DataPreprocessor', mean=[0.] * 3, std=[255.] * 3)),
        work_dir=str(work_dir),
        default_scope='mmagic',
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_processor=dict(type='LogProcessor', by_epoch=False),
        visualizer=dict(type='MultiSetConcatVisualizer', fn_key='img_path',
                        img_keys=['input', 'pred_img'],
                        vis_backends=[dict(type='LocalVisBackend')]) if visualize else None,
        custom_hooks=[dict(type='BasicVisualizationHook', interval=1)] if visualize else None,
        **loops)


def read_log(runner):
    logs = glob.glob(osp.join(runner.log_dir, '*.log'))
    assert logs, f'no log file under {runner.log_dir}'
    with open(logs[0]) as f:
        return f.read()


def test_runner_evaluates_available_sets_only(tmp_path):
    data = tmp_path / 'data'
    write_set(data, 'Rain100L', sigma=8)
    write_set(data, 'Test100', sigma=25)
    _mkdir(data, 'Test1200', 'input')  # present but empty
    _mkdir(data, 'Test1200', 'target')
    write_set(data / 'real_rain', 'test_real', sigma=10, size=(96, 192), paired=False)
    cfg = config_for(str(data))

    runner = build_runner(tmp_path / 'work', cfg, val=True, visualize=True)
    metrics = runner.test()
    assert set(metrics) == {'Rain100L/PSNR', 'Rain100L/SSIM', 'Test100/PSNR', 'Test100/SSIM',
                            'RealRain/NIQE'}
    assert metrics['Rain100L/PSNR'] == pytest.approx(expected_psnr(data / 'Rain100L'), rel=1e-4)
    assert metrics['Test100/PSNR'] == pytest.approx(expected_psnr(data / 'Test100'), rel=1e-4)
    assert metrics['Rain100L/PSNR'] > metrics['Test100/PSNR'] + 5
    assert 0 < metrics['RealRain/NIQE'] < 100

    log = read_log(runner)
    for name, path, reason in [('Rain100H', 'Rain100H/input', 'does not exist'),
                               ('Test1200', 'Test1200/input', 'holds no images'),
                               ('Test2800', 'Test2800/input', 'does not exist'),
                               ('SPA-Data', 'SPA-Data/input', 'does not exist')]:
        line = next(ln for ln in log.splitlines() if f"Skipping test set '{name}'" in ln)
        assert str(data / path) in line and reason in line
    for name in ('Rain100L', 'Test100', 'RealRain'):
        assert f"Skipping test set '{name}'" not in log

    # the validation variant evaluates the same sets and returns the same numbers
    assert runner.val() == pytest.approx(metrics)

    # every set's pictures are kept: the sets share file names (000.png, 001.png)
    pictures = sorted(osp.basename(p) for p in glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image', '*.png')))
    assert pictures == sorted(f'{s}_{i:03d}_0.png' for s in ('Rain100L', 'Test100', 'RealRain')
                              for i in range(2))


def test_runner_fails_clearly_without_any_set(tmp_path):
    cfg = config_for(str(tmp_path / 'nothing'))
    runner = build_runner(tmp_path / 'work', cfg, val=True, allow_empty=True)
    # an optional validation set may be absent: no metrics, one warning
    assert runner.val() == {}
    assert 'No validation set in `val_dataloader` is available' in read_log(runner)
    with pytest.raises(FileNotFoundError) as err:
        runner.test()
    message = str(err.value)
    assert 'None of the 7 test sets in `test_dataloader` is available' in message
    for name in PAIRED_SETS:
        assert str(tmp_path / 'nothing' / name / 'input') in message
    assert str(tmp_path / 'nothing' / 'real_rain' / 'test_real' / 'input') in message


def test_select_available_sets(tmp_path):
    write_set(tmp_path, 'A', sigma=5)
    present = dict(dataset=dict(type='BasicImageDataset', data_root=str(tmp_path / 'A'),
                                data_prefix=dict(img='input', gt='target')))
    absent = dict(dataset=dict(type='BasicImageDataset', data_root=str(tmp_path / 'B'),
                               data_prefix=dict(img='input', gt='target')))
    ev_a, ev_b = [dict(type='PSNR', prefix='A')], [dict(type='PSNR', prefix='B')]
    loaders, evaluators, names = select_available_sets([absent, present], [ev_b, ev_a])
    assert loaders == [present] and evaluators == [ev_a] and names == ['A']
    # skip_missing=False keeps every set (datasets that create their data when built)
    assert select_available_sets([absent, present], [ev_b, ev_a],
                                 skip_missing=False)[2] == ['B', 'A']
    # a single dataloader with a single evaluator (list of metrics) is accepted as well
    assert select_available_sets(present, ev_a)[1] == [ev_a]
    with pytest.raises(ValueError, match='`test_dataloader` has 2 entries but `test_evaluator`'):
        select_available_sets([absent, present], ev_a)
    with pytest.raises(FileNotFoundError, match='validation set'):
        select_available_sets([absent], [ev_b], mode='val')
    # the gt folder counts too, and an ann_file must exist
    (tmp_path / 'C' / 'input').mkdir(parents=True)
    cv2.imwrite(str(tmp_path / 'C' / 'input' / 'x.png'), natural_bgr(8, 8))
    no_gt = dict(type='BasicImageDataset', data_root=str(tmp_path / 'C'),
                 data_prefix=dict(img='input', gt='target'))
    assert find_missing_data(no_gt) == (str(tmp_path / 'C' / 'target'), 'does not exist')
    with_ann = dict(present['dataset'], ann_file='meta.txt')
    assert find_missing_data(with_ann) == (str(tmp_path / 'A' / 'meta.txt'), 'does not exist')
    # without data_prefix only data_root is checked (the class may default the prefixes)
    assert find_missing_data(dict(type='DemoSet', data_root=str(tmp_path / 'A'))) is None
    (tmp_path / 'E').mkdir()
    assert find_missing_data(dict(data_root=str(tmp_path / 'E'))) == (str(tmp_path / 'E'),
                                                                      'is empty')
    # remote data and dataset objects are not checked
    assert find_missing_data(dict(data_root='s3://bucket/set', data_prefix=dict(img='in'))) is None
    assert find_missing_data(object()) is None
