"""Loading the authors' checkpoints and the plugin's own formats."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from nlcl_plugin.models import DecompositionGenerator
from nlcl_plugin.models.checkpoint import (CheckpointError, detect_layout, load_generator,
                                           load_generator_state)


def test_official_files_load_strict_with_weights_only(official_dir):
    for name in ('latest_net_Back.pth', 'latest_net_Rain.pth'):
        path = osp.join(official_dir, 'checkpoints', name)
        raw = torch.load(path, map_location='cpu', weights_only=True)
        assert detect_layout(raw) == 'official'
        g = load_generator(DecompositionGenerator(), path)
        # every official tensor ends up somewhere, unchanged
        sd = g.state_dict()
        assert len(sd) == len(raw) == 72
        assert torch.equal(sd['layers.0.weight'], raw['gen.0.weight'])
        assert torch.equal(sd['layers.5.conv2.bias'], raw['gen.5.model.1.conv.bias'])
        assert torch.equal(sd['layers.17.conv2.weight'], raw['gen.17.conv.3.weight'])
        assert torch.equal(sd['layers.18.bias'], raw['gen.18.bias'])


def test_convert_tool_roundtrip(official_dir, tmp_path, repo_root):
    back = osp.join(official_dir, 'checkpoints', 'latest_net_Back.pth')
    rain = osp.join(official_dir, 'checkpoints', 'latest_net_Rain.pth')
    out1, out2 = tmp_path / 'b.pth', tmp_path / 'both.pth'
    tool = osp.join(repo_root, 'tools', 'convert_official_checkpoint.py')
    subprocess.run([sys.executable, tool, back, str(out1)], check=True)
    subprocess.run([sys.executable, tool, back, str(out2), '--rain', rain], check=True)
    ref_b = load_generator(DecompositionGenerator(), back).state_dict()
    ref_r = load_generator(DecompositionGenerator(), rain).state_dict()
    assert detect_layout(torch.load(out1, weights_only=True)) == 'plugin'
    assert detect_layout(torch.load(out2, weights_only=True)) == 'training'
    for path, role, ref in [(out1, 'background', ref_b), (out2, 'background', ref_b),
                            (out2, 'rain', ref_r)]:
        sd = load_generator_state(str(path), role)
        assert sd.keys() == ref.keys()
        assert all(torch.equal(sd[k], ref[k]) for k in ref)


def test_bad_checkpoints_are_named(tmp_path):
    trunc = tmp_path / 'trunc.pth'
    torch.save(DecompositionGenerator().state_dict(), trunc)
    data = trunc.read_bytes()
    trunc.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='trunc.pth'):
        load_generator(DecompositionGenerator(), str(trunc))
    with pytest.raises(CheckpointError, match='not found'):
        load_generator(DecompositionGenerator(), str(tmp_path / 'missing.pth'))
    wrong = tmp_path / 'wrong.pth'
    torch.save(DecompositionGenerator(mid_channels=16).state_dict(), wrong)
    with pytest.raises(CheckpointError, match='does not match'):
        load_generator(DecompositionGenerator(), str(wrong))
    other = tmp_path / 'other.pth'
    torch.save({'conv.weight': torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match='not an NLCL generator'):
        load_generator(DecompositionGenerator(), str(other))
    only_b = tmp_path / 'only_b.pth'
    torch.save({'state_dict': {f'generator.{k}': v
                               for k, v in DecompositionGenerator().state_dict().items()}}, only_b)
    with pytest.raises(CheckpointError, match='no rain generator'):
        load_generator(DecompositionGenerator(), str(only_b), role='rain')
