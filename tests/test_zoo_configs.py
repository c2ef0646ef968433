"""configs/zoo/: MMagic's Restormer, NAFNet and CycleGAN on the demo data. Every config
builds on the demo's data, test split and evaluator, trains 2 iterations with
tools/train.py and is tested with tools/test.py; the report's ModelDerainer gives the
images tools/test.py scores (reference: its PSNR), and the complexity count matches a
count of the convolutions by hand."""
import glob
import importlib.util
import json
import math
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import nlcl_plugin.mmagic  # noqa: F401
from mmagic.registry import MODELS
from nlcl_plugin.evaluation.metrics import y_metrics

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ZOO = sorted(glob.glob(osp.join(REPO, 'configs', 'zoo', '*.py')))
NAMES = [osp.splitext(osp.basename(p))[0] for p in ZOO]


def tool(name):
    """``tools/<name>.py`` as a module (by path: ``test`` is also a stdlib package)."""
    spec = importlib.util.spec_from_file_location(f'nlcl_zoo_tool_{name}',
                                                  osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmagic'):
        return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The demo data built in a temporary folder, and a test split of two 64x64 crops of
    its test pairs (the datasets still build from the demo root)."""
    from nlcl_plugin.data import prepare_demo_data
    root = tmp_path_factory.mktemp('zoo')
    paths = prepare_demo_data(str(root / 'demo'))
    small = root / 'small_test'
    names = sorted(os.listdir(paths['test_input']))[:2]
    for sub, src in (('input', paths['test_input']), ('target', paths['test_target'])):
        os.makedirs(small / sub)
        for name in names:
            img = cv2.imread(osp.join(src, name))
            cv2.imwrite(str(small / sub / name), img[96:160, 80:144])
    return dict(root=paths['root'], test=str(small), names=names)


def test_zoo_configs_build_on_the_demo_data():
    assert NAMES == ['cyclegan_demo', 'nafnet_demo', 'restormer_demo']
    demo = Config.fromfile(osp.join(REPO, 'configs', 'nlcl_demo.py'))
    supervised = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'supervised_demo.py'))
    from mmagic.models.editors.cyclegan import CycleGAN
    for path, name in zip(ZOO, NAMES):
        cfg = Config.fromfile(path)
        model = build(cfg)
        # one change of the demo's data, test split or evaluator reaches every row
        test = cfg.test_dataloader.to_dict()
        test['dataset'].pop('pipeline', None)  # CycleGAN's: its domains' keys
        assert test == demo.test_dataloader.to_dict(), name
        assert cfg.val_dataloader.dataset.data_root == demo.val_dataloader.dataset.data_root
        assert cfg.test_evaluator == demo.test_evaluator and cfg.crop_size == demo.crop_size
        train = cfg.train_dataloader.dataset
        if name == 'cyclegan_demo':  # unpaired: NLCL's folders
            assert isinstance(model, CycleGAN) and type(model).__name__ == 'RainCycleGAN'
            ref = demo.train_dataloader.dataset
            assert (train.type, train.data_root, train.data_prefix) == (
                ref.type, ref.data_root, ref.data_prefix)
            assert type(model.generators['clean']).__name__ == 'ResnetGenerator'
        else:  # paired: the supervised reference's crops
            ref = supervised.train_dataloader.dataset
            assert (train.type, train.data_root, train.data_prefix) == (
                ref.type, ref.data_root, ref.data_prefix)
            assert type(model).__name__ == 'BaseEditModel'
            assert type(model.generator).__name__ == {'nafnet_demo': 'NAFNet',
                                                      'restormer_demo': 'Restormer'}[name]


def _test_options(demo):
    """tools/test.py's overrides: the small test split (the demo root still builds)."""
    return [f"test_dataloader.dataset.data_root={demo['test']}",
            f"test_dataloader.dataset.demo_root={demo['root']}"]


def _train_options(name, demo):
    """tools/train.py's overrides: 2 iterations on 32x32 crops, validated once."""
    paired = name != 'cyclegan_demo'
    crop = ('train_dataloader.dataset.pipeline.3.gt_patch_size=32' if paired
            else 'train_dataloader.dataset.pipeline.2.crop_size=32')
    return [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        f"train_dataloader.dataset.data_root={demo['root']}", crop,
        f"val_dataloader.dataset.data_root={demo['test']}",
        f"val_dataloader.dataset.demo_root={demo['root']}"] + (
        [f"train_dataloader.dataset.demo_root={demo['root']}"] if paired else []) + \
        _test_options(demo)


@pytest.mark.parametrize('name', NAMES)
def test_train_two_iterations_and_test(name, demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = osp.join(REPO, 'configs', 'zoo', f'{name}.py')
    work = tmp_path / 'work'
    assert tool('train').main([config, '--work-dir', str(work), '--malloc', 'default',
                               '--cfg-options'] + _train_options(name, demo)) == 0
    ckpt = work / 'iter_2.pth'
    assert ckpt.exists()
    out = tmp_path / 'metrics.json'
    assert tool('test').main([config, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                              '--out', str(out), '--cfg-options'] + _test_options(demo)) == 0
    metrics = json.loads(out.read_text())
    assert set(metrics) == {'PSNR', 'SSIM'} and all(math.isfinite(v) for v in metrics.values())

    # the report runs the same model through its own test step: the images tools/test.py
    # scored, and the same PSNR (Y) from them (the metric scores unrounded outputs)
    from nlcl_plugin.evaluation.report import derainer_for
    from nlcl_plugin.mmagic.runner_utils import load_config
    from nlcl_plugin.mmagic.zoo import ModelDerainer
    options = dict(o.split('=', 1) for o in _test_options(demo))
    derainer = derainer_for(load_config(config, options), str(ckpt))
    assert isinstance(derainer, ModelDerainer)
    scores = []
    for image in demo['names']:
        rainy = cv2.imread(osp.join(demo['test'], 'input', image))[..., ::-1].copy()
        clean = cv2.imread(osp.join(demo['test'], 'target', image))[..., ::-1].copy()
        pred, rain = derainer(rainy)
        assert rain is None and pred.shape == rainy.shape and pred.dtype == np.uint8
        scores.append(y_metrics(pred, clean)[0])
    assert np.mean(scores) == pytest.approx(metrics['PSNR'], abs=0.02)


def test_rain_cyclegan_needs_its_domains():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'zoo', 'cyclegan_demo.py'))
    cfg.model.clean_domain = 'sunny'
    with pytest.raises(ValueError, match=r"\['sunny'\] are not among"):
        build(cfg)


def test_generation_init_weights_on_a_module_with_init_info():
    """MMagic's initialisation of translation models (what the Runner calls before
    CycleGAN trains): the layers are initialised, nothing raises."""
    from collections import defaultdict

    from mmagic.models.utils import generation_init_weights
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    net._params_init_info = defaultdict(dict)
    for p in net.parameters():
        net._params_init_info[p]['init_info'] = 'before'
        net._params_init_info[p]['tmp_mean_value'] = p.data.mean()
    torch.manual_seed(0)
    generation_init_weights(net, init_type='normal', init_gain=0.02)
    assert float(net[0].weight.std()) == pytest.approx(0.02, rel=0.3)
    assert 'generation_init_weights' in net._params_init_info[net[0].weight]['init_info']


def _counted_by_hand(net, size):
    """Multiply-accumulates of every (transposed) convolution of ``net`` on one size x size
    image, and the values its instance norms normalise, from the shapes its forward sees."""
    macs, normalised = [], []

    def conv(module, inputs, output):  # each weight once per output (transposed: input) pixel
        x = inputs[0] if isinstance(module, torch.nn.ConvTranspose2d) else output
        macs.append(x.shape[2] * x.shape[3] * module.weight.numel())

    def norm(module, inputs, output):
        normalised.append(output.numel())

    handles = [m.register_forward_hook(conv) for m in net.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    handles += [m.register_forward_hook(norm) for m in net.modules()
                if isinstance(m, torch.nn.InstanceNorm2d)]
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return sum(macs), sum(normalised)


@pytest.mark.parametrize('config', ['configs/nlcl_demo.py',
                                    'configs/demo/nlcl_demo_no_streak_light.py',
                                    'configs/zoo/cyclegan_demo.py',
                                    'configs/zoo/restormer_demo.py'])
def test_model_complexity(config):
    from nlcl_plugin.evaluation.comparison import model_complexity
    from nlcl_plugin.mmagic.zoo import deraining_network
    out = model_complexity(osp.join(REPO, config), size=64)
    net = deraining_network(build(Config.fromfile(osp.join(REPO, config)))).eval()
    assert out['params'] == sum(p.numel() for p in net.parameters())
    assert out['macs_size'] == 64
    convs, normalised = _counted_by_hand(net, 64)
    if 'restormer' in config:  # plus the attention's matrix products
        assert out['macs'] > convs
    elif config == 'configs/nlcl_demo.py':  # plus the streak light's few functional ops
        assert convs < out['macs'] < 1.001 * convs and normalised == 0
    else:  # the convolutions, and 4 per value an nn.InstanceNorm2d normalises
        assert out['macs'] == convs + 4 * normalised


def test_comparison_figure_shows_the_host_models(demo, tmp_path):
    """rainy | NLCL B | NLCL R | supervised | CycleGAN | clean (the released demo model
    stands in for the NLCL and supervised runs, an untrained CycleGAN for its run)."""
    from nlcl_plugin.evaluation.comparison import comparison_figure
    from nlcl_plugin.image_io import read_image
    from nlcl_plugin.mmagic.zoo import ModelDerainer
    config = osp.join(REPO, 'configs', 'zoo', 'cyclegan_demo.py')
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = build(cfg)
    model.init_weights()
    ckpt = str(tmp_path / 'cyclegan.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    released = 'model_zoo/nlcl_demo_s2022/nlcl_demo_s2022.pth'
    rows = [dict(name='nlcl_recommended', config='configs/nlcl_demo.py', checkpoint=released),
            dict(name='supervised_l1', config='configs/demo/supervised_demo.py',
                 checkpoint=released),
            dict(name='cyclegan', config=config, checkpoint=ckpt)]
    path = comparison_figure(rows, demo['test'], str(tmp_path / 'fig.png'))
    fig = read_image(path)[0]
    assert fig.shape == (28 + 2 * 64, 6 * 64, 3)
    rainy = read_image(osp.join(demo['test'], 'input', demo['names'][1]))[0]
    expected = ModelDerainer.from_config(cfg, ckpt)(rainy)[0]
    np.testing.assert_array_equal(fig[28 + 64:, 4 * 64:5 * 64], expected)
    clean = read_image(osp.join(demo['test'], 'target', demo['names'][1]))[0]
    np.testing.assert_array_equal(fig[28 + 64:, 5 * 64:], clean)
    assert comparison_figure(rows[2:], demo['test'], str(tmp_path / 'none.png')) is None
