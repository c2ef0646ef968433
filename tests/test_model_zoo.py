"""The README's model-zoo table and configs/metafile.yml come from the results file."""
import copy
import json
import os.path as osp
import subprocess
import sys

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))

import model_zoo  # noqa: E402

RESULTS = osp.join(REPO, 'results', 'demo_comparison.json')

SAMPLE = {
    'benchmark': 'nlcl_demo', 'date': '2026-01-02', 'command': 'python tools/compare_demo.py',
    'iterations': 7, 'batch_size': 1, 'crop_size': 64,
    'data': {'train_rainy': 3, 'train_clean': 4, 'train_pairs_supervised': 3, 'test_pairs': 2},
    'metrics': 'PSNR / SSIM on the Y channel',
    'hardware': {'cpu': 'Some CPU', 'cores': 2, 'device': 'CPU', 'torch': '2.x'},
    'input': {'psnr': 20.123, 'ssim': 0.61234},
    'methods': [
        {'name': 'nlcl_tpami_asymmetric', 'label': 'NLCL A', 'config': 'configs/nlcl_demo.py',
         'supervised': False, 'iterations': 7, 'checkpoint': 'w/a/iter_7.pth',
         'psnr': 21.5, 'ssim': 0.7, 'train_seconds': 90.0},
        {'name': 'supervised_l1', 'label': 'Sup', 'config': 'configs/demo/supervised_demo.py',
         'supervised': True, 'iterations': 7, 'checkpoint': 'w/s/iter_7.pth',
         'psnr': 25.25, 'ssim': 0.8},
    ],
}
README = f'# x\n\nbefore\n\n{model_zoo.START}\nold table\n{model_zoo.END}\n\nafter\n'


def test_render_puts_every_number_in_the_table_and_metafile():
    readme, meta = model_zoo.render(SAMPLE, README)
    assert readme.startswith('# x\n\nbefore\n') and readme.endswith('\n\nafter\n')
    assert 'old table' not in readme
    table = readme.split(model_zoo.START)[1].split(model_zoo.END)[0]
    assert '| rainy input (no deraining) | - | - | 20.12 | 0.6123 | - |' in table
    assert '| NLCL A | [nlcl_demo.py](configs/nlcl_demo.py) | unpaired | 21.50 | 0.7000 | 1.5 min |' in table
    assert '| Sup | [supervised_demo.py](configs/demo/supervised_demo.py) | paired (supervised) | ' \
           '25.25 | 0.8000 | - |' in table
    assert '7 iterations' in table and 'Some CPU, 2 cores' in table and '2026-01-02' in table
    doc = yaml.safe_load(meta)
    assert [c['Name'] for c in doc['Collections']] == ['NLCL', 'NLCL-TPAMI']
    models = doc['Models']
    assert [m['Config'] for m in models] == [m['config'] for m in SAMPLE['methods']]
    assert models[0]['In Collection'] == 'NLCL-TPAMI'
    assert models[1]['Results'][0]['Metrics'] == {'PSNR (Y)': 25.25, 'SSIM (Y)': 0.8}
    assert models[1]['Weights'] == 'w/s/iter_7.pth'

    def no_empty(node):  # MMagic's model index forbids null and empty values
        assert node not in (None, '', [], {})
        if isinstance(node, dict):
            for v in node.values():
                no_empty(v)
        elif isinstance(node, list):
            for v in node:
                no_empty(v)
    no_empty(doc)


def test_render_needs_the_markers():
    with pytest.raises(ValueError, match='model-zoo:start'):
        model_zoo.render(SAMPLE, '# no markers\n')


def test_check_mode_detects_stale_files(tmp_path):
    res_path, readme, meta = tmp_path / 'r.json', tmp_path / 'README.md', tmp_path / 'm.yml'
    res_path.write_text(json.dumps(SAMPLE))
    readme.write_text(README)
    args = ['--results', str(res_path), '--readme', str(readme), '--metafile', str(meta)]
    assert model_zoo.main(args + ['--check']) == 1
    assert model_zoo.main(args) == 0
    assert model_zoo.main(args + ['--check']) == 0
    changed = copy.deepcopy(SAMPLE)
    changed['methods'][0]['psnr'] = 22.0
    res_path.write_text(json.dumps(changed))
    assert model_zoo.main(args + ['--check']) == 1


def test_committed_readme_and_metafile_match_the_results():
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'model_zoo.py'), '--check'],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    with open(RESULTS) as f:
        results = json.load(f)
    for method in results['methods']:
        assert osp.isfile(osp.join(REPO, method['config'])), method['config']
