"""tools/ship_model.py releases a run's last checkpoint only when it beats the rainy input,
and tools/model_zoo.py lists what it released (references: hand-built generators whose
output is the input shifted by a known offset)."""
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# a demo config whose G_B is a free residual: its last bias shifts B by a constant
FREE_RESIDUAL = osp.join(REPO, 'configs', 'demo', 'nlcl_demo_no_streak_light.py')
sys.path.insert(0, osp.join(REPO, 'tools'))

import nlcl_plugin.mmagic  # noqa: E402,F401
import ship_model  # noqa: E402
from mmagic.registry import MODELS  # noqa: E402
from nlcl_plugin.evaluation import model_zoo  # noqa: E402
from nlcl_plugin.mmagic.runner_utils import load_config  # noqa: E402

from test_model_zoo import README, SAMPLE, no_empty  # noqa: E402


@pytest.fixture()
def run(tmp_path):
    """A paired test split (rainy = clean + 10 grey levels) and a config pointing at it."""
    rng = np.random.default_rng(0)
    for i in range(2):
        clean = rng.integers(40, 200, (36, 44, 3)).astype(np.uint8)
        for sub, img in (('input', clean + 10), ('target', clean)):
            os.makedirs(tmp_path / 'test' / sub, exist_ok=True)
            cv2.imwrite(str(tmp_path / 'test' / sub / f'{i}.png'), img)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = [{FREE_RESIDUAL!r}]\n"
                   "train_cfg = dict(max_iters=2)\n"
                   f"test_dataloader = dict(dataset=dict(data_root={str(tmp_path / 'test')!r}))\n")
    return tmp_path, str(cfg)


def write_run(tmp_path, cfg, offset):
    """work/iter_2.pth whose averaged G_B outputs O + offset (grey levels), and a log."""
    with DefaultScope.overwrite_default_scope('mmagic'):
        model = MODELS.build(load_config(cfg).model)
    with torch.no_grad():
        model.generator_ema.layers[-1].bias.fill_(offset / 127.5)
    work = tmp_path / 'work'
    stamp = work / '20260101_000000'
    os.makedirs(stamp / 'vis_data', exist_ok=True)
    (stamp / '20260101_000000.log').write_text('the log\n')
    (stamp / 'vis_data' / 'scalars.json').write_text('{"loss_g": 1.0, "step": 1}\n')
    (work / 'cfg.py').write_text('dumped config\n')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=2, seed=7, cfg='cfg text')),
               work / 'iter_2.pth')
    return str(work)


def test_a_model_that_beats_the_input_is_released(run, capsys):
    tmp_path, cfg = run
    work = write_run(tmp_path, cfg, offset=-8)  # leaves 2 of the 10 levels: beats the input
    out = tmp_path / 'zoo' / 'demo'
    assert ship_model.main([cfg, work, str(out), '--command', 'python tools/train.py x',
                            '--name', 'demo']) == 0
    assert sorted(os.listdir(out)) == ['config.py', 'demo.pth', 'model.json', 'scalars.json',
                                       'train.log']
    assert (out / 'train.log').read_text() == 'the log\n'
    info = json.loads((out / 'model.json').read_text())
    assert info['beats_input'] and info['seed'] == 7 and info['iterations'] == 2
    assert info['weights_kind'] == 'moving average' and info['images'] == 2
    # references: PSNR of a constant error of 2 and of 10 grey levels on Y (8-bit)
    y = 65.481 + 128.553 + 24.966  # Y's weights (of 255) on R, G, B
    assert info['psnr'] == pytest.approx(20 * np.log10(255 / (2 * y / 255)), abs=0.02)
    assert info['input_psnr'] == pytest.approx(20 * np.log10(255 / (10 * y / 255)), abs=0.02)
    saved = torch.load(out / 'demo.pth', weights_only=True)
    assert saved['meta']['command'] == 'python tools/train.py x'
    # the README and metafile list it
    readme, meta = model_zoo.render(SAMPLE, README, [info])
    row = [ln for ln in readme.splitlines() if ln.startswith('| demo |')]
    assert len(row) == 1 and f"{info['psnr']:.2f}" in row[0] and '| 2 | 7 |' in row[0]
    doc = yaml.safe_load(meta)
    assert doc['Models'][-1]['Weights'] == info['weights']
    assert doc['Models'][-1]['Name'] == 'demo'
    no_empty(doc)


def test_a_model_that_does_not_beat_the_input_is_not_released(run, capsys):
    tmp_path, cfg = run
    work = write_run(tmp_path, cfg, offset=0)  # the identity: level with the input
    out = tmp_path / 'zoo' / 'demo'
    assert ship_model.main([cfg, work, str(out), '--command', 'c']) == 1
    assert 'not released' in capsys.readouterr().err and not out.exists()
    assert ship_model.main([cfg, work, str(out), '--command', 'c', '--force']) == 0
    assert json.loads((out / 'model.json').read_text())['beats_input'] is False


def test_an_unfinished_run_is_named(run, capsys):
    tmp_path, cfg = run
    os.makedirs(tmp_path / 'empty')
    assert ship_model.main([cfg, str(tmp_path / 'empty'), str(tmp_path / 'o'),
                            '--command', 'c']) == 2
    assert 'iter_2.pth not found: the run has not finished its 2 iterations' in \
        capsys.readouterr().err
