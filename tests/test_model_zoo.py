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

import model_zoo as model_zoo_tool  # noqa: E402

from nlcl_plugin.evaluation import model_zoo  # noqa: E402

RESULTS = osp.join(REPO, 'results', 'demo_comparison.json')

SAMPLE = {
    'benchmark': 'nlcl_demo', 'date': '2026-01-02', 'command': 'python tools/compare_demo.py',
    'iterations': 7, 'seeds': [0, 1, 2], 'batch_size': 1, 'crop_size': 64,
    'data': {'train_rainy': 3, 'train_clean': 4, 'train_pairs_supervised': 3, 'test_pairs': 2},
    'metrics': 'PSNR / SSIM on the Y channel',
    'hardware': {'cpu': 'Some CPU', 'cores': 2, 'device': 'CPU', 'torch': '2.x'},
    'input': {'psnr': 20.123, 'ssim': 0.61234},
    'methods': [
        # gain 21.5 - 20.123 = +1.377 dB > std 0.5: a gain
        {'name': 'nlcl_recommended', 'label': 'NLCL A', 'config': 'configs/nlcl_demo.py',
         'supervised': False, 'iterations': 7, 'seeds': [0, 1, 2],
         'checkpoint': 'w/a/seed0/iter_7.pth',
         'psnr_per_seed': [21.0, 21.5, 22.0], 'psnr': 21.5, 'psnr_std': 0.5,
         'ssim_per_seed': [0.69, 0.70, 0.71], 'ssim': 0.7, 'ssim_std': 0.01,
         'detail_removed': 0.15, 'detail_removed_std': 0.02,
         'detail_removed_per_seed': [0.13, 0.15, 0.17],
         'detail_projection': 0.3, 'detail_projection_std': 0.05,
         'detail_projection_per_seed': [0.25, 0.3, 0.35],
         'train_seconds': 90.0, 'train_seconds_total': 270.0},
        # gain 20.5 - 20.123 = +0.377 dB < std 0.5: within the spread
        {'name': 'nlcl_cvpr_symmetric', 'label': 'NLCL B',
         'config': 'configs/demo/nlcl_demo_cvpr_symmetric.py',
         'supervised': False, 'iterations': 7, 'seeds': [0, 1, 2],
         'checkpoint': 'w/b/seed0/iter_7.pth',
         'psnr_per_seed': [20.0, 20.5, 21.0], 'psnr': 20.5, 'psnr_std': 0.5,
         'ssim_per_seed': [0.6, 0.62, 0.64], 'ssim': 0.62, 'ssim_std': 0.02},
        {'name': 'supervised_l1', 'label': 'Sup', 'config': 'configs/demo/supervised_demo.py',
         'supervised': True, 'iterations': 7, 'seeds': [0, 1, 2],
         'checkpoint': 'w/s/seed0/iter_7.pth',
         'psnr_per_seed': [25.0, 25.25, 25.5], 'psnr': 25.25, 'psnr_std': 0.25,
         'ssim_per_seed': [0.79, 0.8, 0.81], 'ssim': 0.8, 'ssim_std': 0.01},
    ],
}
#: a results file written before seeds were repeated: one value per method, no spread
OLD_SAMPLE = {k: v for k, v in SAMPLE.items() if k != 'seeds'}
OLD_SAMPLE['methods'] = [
    {'name': 'nlcl_tpami_asymmetric', 'label': 'NLCL old', 'config': 'configs/nlcl_demo.py',
     'supervised': False, 'iterations': 7, 'checkpoint': 'w/a/iter_7.pth',
     'psnr': 21.5, 'ssim': 0.7, 'train_seconds': 90.0},
]
README = f'# x\n\nbefore\n\n{model_zoo.START}\nold table\n{model_zoo.END}\n\nafter\n'


def no_empty(node):  # MMagic's model index forbids null and empty values
    assert node not in (None, '', [], {})
    if isinstance(node, dict):
        for v in node.values():
            no_empty(v)
    elif isinstance(node, list):
        for v in node:
            no_empty(v)


def table_of(readme):
    return readme.split(model_zoo.START)[1].split(model_zoo.END)[0]


def test_render_puts_every_number_in_the_table_and_metafile():
    readme, meta = model_zoo.render(SAMPLE, README)
    assert readme.startswith('# x\n\nbefore\n') and readme.endswith('\n\nafter\n')
    assert 'old table' not in readme
    table = table_of(readme)
    assert '| Method | Config | Supervision | Parameters | MACs at 256x256 | PSNR (Y) | SSIM (Y) ' \
           '| vs input | gain > std | streaks taken away | detail error removed | Training time |' \
        in table
    assert '| rainy input (no deraining) | - | - | - | - | 20.12 | 0.6123 | - | - | 0 % | 0 % ' \
           '| - |' in table
    # results without the complexity fields show '-' there
    assert '| NLCL A | [nlcl_demo.py](configs/nlcl_demo.py) | unpaired | - | - | 21.50 ± 0.50 | ' \
           '0.7000 ± 0.0100 | +1.38 dB | yes | 30.0 ± 5.0 % | 15.0 ± 2.0 % | 1.5 min |' in table
    # results without the detail-band measurement show '-'
    assert '| NLCL B | [nlcl_demo_cvpr_symmetric.py](configs/demo/nlcl_demo_cvpr_symmetric.py) ' \
           '| unpaired | - | - | 20.50 ± 0.50 | 0.6200 ± 0.0200 | +0.38 dB | no | - | - | - |' \
        in table
    assert '| Sup | [supervised_demo.py](configs/demo/supervised_demo.py) | paired | - | - | ' \
           '25.25 ± 0.25 | 0.8000 ± 0.0100 | +5.13 dB | - | - | - | - |' in table
    assert 'trained with 3 seeds (0, 1, 2)' in table
    assert 'mean ± the sample standard deviation over seeds' in table
    assert 'Differences smaller than the spread (± one standard deviation over seeds) are ' \
           'not differences.' in table
    assert '(budget: equal iterations): 7 iterations' in table
    assert 'Some CPU, 2 cores' in table and '2026-01-02' in table
    doc = yaml.safe_load(meta)
    assert [c['Name'] for c in doc['Collections']] == ['NLCL', 'NLCL-TPAMI']
    models = doc['Models']
    assert [m['Config'] for m in models] == [m['config'] for m in SAMPLE['methods']]
    assert [m['In Collection'] for m in models] == ['NLCL-TPAMI', 'NLCL', 'NLCL']
    assert models[0]['Results'][0]['Metrics'] == {
        'PSNR (Y)': 21.5, 'PSNR (Y) std': 0.5, 'SSIM (Y)': 0.7, 'SSIM (Y) std': 0.01,
        'Streaks taken away': 0.3, 'Streaks taken away std': 0.05,
        'Detail-band error removed': 0.15, 'Detail-band error removed std': 0.02}
    assert models[2]['Results'][0]['Metrics'] == {
        'PSNR (Y)': 25.25, 'PSNR (Y) std': 0.25, 'SSIM (Y)': 0.8, 'SSIM (Y) std': 0.01}
    assert models[2]['Metadata']['Seeds'] == 3
    assert models[2]['Weights'] == 'w/s/seed0/iter_7.pth'
    no_empty(doc)


def test_cpu_description_names_the_training_resources():
    res = copy.deepcopy(SAMPLE)
    res['hardware']['cpu_description'] = 'Some CPU 9000, 2 cores, AVX2 (no AVX-512)'
    readme, meta = model_zoo.render(res, README)
    assert '(Some CPU 9000, 2 cores, AVX2 (no AVX-512), torch 2.x)' in table_of(readme)
    assert yaml.safe_load(meta)['Models'][0]['Metadata']['Training Resources'] == \
        'Some CPU 9000, 2 cores, AVX2 (no AVX-512)'


def test_gain_flag_needs_a_gain_larger_than_the_spread():
    method = copy.deepcopy(SAMPLE['methods'][0])  # psnr 21.5, std 0.5
    assert model_zoo.gain_flag(method, 20.9) == 'yes'  # +0.6 > 0.5
    assert model_zoo.gain_flag(method, 21.1) == 'no'   # +0.4 < 0.5
    assert model_zoo.gain_flag(method, 22.0) == 'no'   # below the input
    assert model_zoo.gain_flag(SAMPLE['methods'][2], 0.0) == '-'  # supervised reference
    assert model_zoo.gain_flag(OLD_SAMPLE['methods'][0], 0.0) == '-'  # one seed: no spread


def test_single_seed_results_still_render():
    readme, meta = model_zoo.render(OLD_SAMPLE, README)
    table = table_of(readme)
    assert '| NLCL old | [nlcl_demo.py](configs/nlcl_demo.py) | unpaired | - | - | 21.50 | ' \
           '0.7000 | ' \
           '+1.38 dB | - | - | - | 1.5 min |' in table
    assert 'trained with 1 seed;' in table and '±' not in table.split('| Method')[1]
    doc = yaml.safe_load(meta)
    assert doc['Models'][0]['In Collection'] == 'NLCL-TPAMI'
    assert doc['Models'][0]['Metadata']['Seeds'] == 1
    assert doc['Models'][0]['Results'][0]['Metrics'] == {
        'PSNR (Y)': 21.5, 'PSNR (Y) std': 0.0, 'SSIM (Y)': 0.7, 'SSIM (Y) std': 0.0}
    no_empty(doc)


def test_render_needs_the_markers():
    with pytest.raises(ValueError, match='model-zoo:start'):
        model_zoo.render(SAMPLE, '# no markers\n')


def test_check_mode_detects_stale_files(tmp_path):
    res_path, readme, meta = tmp_path / 'r.json', tmp_path / 'README.md', tmp_path / 'm.yml'
    res_path.write_text(json.dumps(SAMPLE))
    readme.write_text(README)
    args = ['--results', str(res_path), '--readme', str(readme), '--metafile', str(meta)]
    assert model_zoo_tool.main(args + ['--check']) == 1
    assert model_zoo_tool.main(args) == 0
    assert model_zoo_tool.main(args + ['--check']) == 0
    changed = copy.deepcopy(SAMPLE)
    changed['methods'][0]['psnr_std'] = 0.25
    res_path.write_text(json.dumps(changed))
    assert model_zoo_tool.main(args + ['--check']) == 1


def test_missing_results_file_is_reported(tmp_path, capsys):
    readme = tmp_path / 'README.md'
    readme.write_text(README)
    assert model_zoo_tool.main(['--results', str(tmp_path / 'none.json'), '--readme', str(readme),
                           '--metafile', str(tmp_path / 'm.yml'), '--check']) == 2
    assert 'none.json not found' in capsys.readouterr().err
    assert readme.read_text() == README


def test_committed_readme_and_metafile_match_the_results():
    if not osp.isfile(RESULTS):
        pytest.skip('no results/demo_comparison.json: run make compare')
    res = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'model_zoo.py'), '--check'],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    with open(RESULTS) as f:
        results = json.load(f)
    for method in results['methods']:
        assert osp.isfile(osp.join(REPO, method['config'])), method['config']


def test_per_kind_table():
    res = copy.deepcopy(SAMPLE)
    res['held_out_kinds'] = ['screen_motion']
    res['input']['per_kind'] = {'layered': dict(psnr=20.0), 'screen_motion': dict(psnr=18.5)}
    for m in res['methods']:
        m['per_kind'] = {
            'layered': dict(psnr=21.25, psnr_std=0.5, detail_projection=0.3,
                            detail_projection_std=0.05),
            'screen_motion': dict(psnr=18.0, psnr_std=0.25, detail_projection=-0.1,
                                  detail_projection_std=0.02)}
    table = table_of(model_zoo.render(res, README)[0])
    assert '| Method | layered | screen_motion (held out) |' in table
    assert '| rainy input (PSNR, Y) | 20.00 dB | 18.50 dB |' in table
    assert '| NLCL A | +1.25 ± 0.50 dB / 30 ± 5 % | -0.50 ± 0.25 dB / -10 ± 2 % |' in table
    # results without kinds: no such table
    assert 'Per rain kind' not in table_of(model_zoo.render(SAMPLE, README)[0])


def test_host_model_rows_with_complexity_and_their_collections():
    """A row of MMagic's CycleGAN with its parameters and MACs (the values of the results
    file, rendered): the table's cells, its gain flag (unsupervised), and the metafile's
    collection and metadata; only the collections of the rows are listed."""
    res = copy.deepcopy(SAMPLE)
    res['budget'] = 'equal iterations'
    cyclegan = dict(copy.deepcopy(SAMPLE['methods'][1]), name='cyclegan', label='CycleGAN',
                    config='configs/zoo/cyclegan_demo.py', collection='CycleGAN',
                    params=1374723, macs=6700400640, macs_size=256)
    res['methods'].append(cyclegan)
    res['methods'][0].update(params=316195, macs=20700000000, macs_size=256)
    readme, meta = model_zoo.render(res, README)
    table = table_of(readme)
    assert '| CycleGAN | [cyclegan_demo.py](configs/zoo/cyclegan_demo.py) | unpaired | 1.37 M ' \
           '| 6.7 G | 20.50 ± 0.50 | 0.6200 ± 0.0200 | +0.38 dB | no |' in table
    assert '| NLCL A | [nlcl_demo.py](configs/nlcl_demo.py) | unpaired | 0.32 M | 20.7 G |' in table
    doc = yaml.safe_load(meta)
    assert [c['Name'] for c in doc['Collections']] == ['NLCL', 'NLCL-TPAMI', 'CycleGAN']
    row = doc['Models'][-1]
    assert row['In Collection'] == 'CycleGAN' and row['Config'] == 'configs/zoo/cyclegan_demo.py'
    assert row['Metadata']['Parameters'] == 1374723
    assert row['Metadata']['MACs (256x256)'] == 6700400640
    assert 'Parameters' not in doc['Models'][1]['Metadata']  # not recorded: left out
    no_empty(doc)
    res['methods'][0]['macs_size'] = 128
    with pytest.raises(ValueError, match='different sizes'):
        model_zoo.render(res, README)



def test_training_total_of_every_row():
    res = copy.deepcopy(SAMPLE)
    assert model_zoo.training_total(res) == ''  # a row without its runs' times
    for m, seconds in zip(res['methods'], (3600, 5400, 1800)):
        m['train_seconds_total'] = seconds
    res['jobs'] = 2
    assert model_zoo.training_total(res) == \
        ' Training every row took 3.0 h of run time (2 runs at a time: about 1.5 h).'
    assert 'Training every row took 3.0 h' in table_of(model_zoo.render(res, README)[0])


def test_table_names_the_demo_data_version():
    res = copy.deepcopy(SAMPLE)
    res['description'] = 'Built-in demo benchmark (demo data version 3): ...'
    assert 'Demo data version 3.' in table_of(model_zoo.render(res, README)[0])
    res['data_version'] = 4
    assert 'Demo data version 4.' in table_of(model_zoo.render(res, README)[0])
    assert model_zoo.data_version({}) == '?'


def test_the_table_names_the_folder_its_checkpoints_are_in():
    """The checkpoint folder is the one the results' runs wrote to (its --work-dir)."""
    assert model_zoo.checkpoint_root(SAMPLE) == 'w'
    res = copy.deepcopy(SAMPLE)
    for m in res['methods']:
        m['checkpoint'] = m['checkpoint'].replace('w/', 'work_dirs/cmp_v4/', 1)
    assert 'under `work_dirs/cmp_v4/`' in model_zoo.readme_table(res)
    for m in res['methods']:
        del m['checkpoint']
    assert model_zoo.checkpoint_root(res) == 'work_dirs/demo_comparison'


def test_a_released_model_names_the_data_it_was_tested_on(tmp_path):
    released = [dict(name='m', config='configs/nlcl_demo.py', iterations=300, seed=1,
                     images=5, psnr=28.0, ssim=0.8, input_psnr=26.0, weights='model_zoo/m/m.pth',
                     cpu='Some CPU', data_version=3, test_root='data/nlcl_demo/test')]
    table = '\n'.join(model_zoo.released_table(released))
    assert '| demo data version 3, 5 images | 28.00 | 0.8000 | +2.00 dB |' in table
    del released[0]['data_version']
    assert '| `data/nlcl_demo/test`, 5 images |' in '\n'.join(model_zoo.released_table(released))
