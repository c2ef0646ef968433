"""The README's model-zoo table and ``configs/metafile.yml`` from measured results.

:func:`render` turns the results file of ``tools/compare_demo.py`` (and the released
models' ``model.json``) into the README block between :data:`START` and :data:`END` and
MMagic's model index (``Collections``, then ``Models`` with ``Config``, ``In Collection``,
``Metadata``, ``Name``, ``Results`` and ``Weights``; no empty values). Nothing in either
is typed by hand. ``tools/model_zoo.py`` is the command line.
"""
import glob
import json
import os.path as osp
import re
from typing import Tuple

import yaml

__all__ = ['START', 'END', 'COLLECTIONS', 'method_stats', 'gain_flag', 'share_cell',
           'checkpoint_root', 'complexity_size', 'complexity_cells', 'training_total',
           'per_kind_table', 'released_table', 'readme_table', 'metafile', 'load_released',
           'render']

START = '<!-- model-zoo:start -->'
END = '<!-- model-zoo:end -->'

COLLECTIONS = [
    dict(Name='NLCL',
         Metadata=dict(Architecture=['NLCL']),
         Paper=dict(Title='Unsupervised Deraining: Where Contrastive Learning Meets '
                    'Self-similarity',
                    URL='https://arxiv.org/abs/2203.11509'),
         README='README.md',
         Task=['Deraining'],
         Year=2022),
    dict(Name='NLCL-TPAMI',
         Metadata=dict(Architecture=['NLCL']),
         Paper=dict(Title='Unsupervised Deraining: Where Asymmetric Contrastive Learning '
                    'Meets Self-similarity',
                    URL='https://arxiv.org/abs/2211.00837'),
         README='README.md',
         Task=['Deraining'],
         Year=2024),
    # MMagic's own models, trained here on the same data (configs/zoo/)
    dict(Name='Restormer',
         Metadata=dict(Architecture=['Restormer']),
         Paper=dict(Title='Restormer: Efficient Transformer for High-Resolution Image '
                    'Restoration',
                    URL='https://arxiv.org/abs/2111.09881'),
         README='https://github.com/open-mmlab/mmagic/blob/main/configs/restormer/README.md',
         Task=['Deraining'],
         Year=2022),
    dict(Name='NAFNet',
         Metadata=dict(Architecture=['NAFNet']),
         Paper=dict(Title='Simple Baselines for Image Restoration',
                    URL='https://arxiv.org/abs/2204.04676'),
         README='https://github.com/open-mmlab/mmagic/blob/main/configs/nafnet/README.md',
         Task=['Deraining'],
         Year=2022),
    dict(Name='CycleGAN',
         Metadata=dict(Architecture=['CycleGAN']),
         Paper=dict(Title='Unpaired Image-to-Image Translation using Cycle-Consistent '
                    'Adversarial Networks',
                    URL='https://arxiv.org/abs/1703.10593'),
         README='https://github.com/open-mmlab/mmagic/blob/main/configs/cyclegan/README.md',
         Task=['Deraining'],
         Year=2017),
]


def _collection(method: dict) -> str:
    if method.get('collection'):
        return method['collection']  # one of the host's models
    if method['supervised']:
        return 'NLCL'  # the same generator, trained with supervision for reference
    if method['name'] in ('nlcl_cvpr_symmetric', 'nlcl_official_legacy'):
        return 'NLCL'  # the CVPR paper's symmetric layer loss and its released code
    return 'NLCL-TPAMI'


def _hardware(res: dict) -> str:
    hw = res['hardware']
    if hw['device'] != 'CPU':
        return f"{hw['device']}"
    return hw.get('cpu_description') or f"{hw['cpu']}, {hw['cores']} cores"


def method_stats(method: dict) -> dict:
    """A method's PSNR/SSIM over seeds: ``psnr``, ``ssim`` (means), ``psnr_std``,
    ``ssim_std`` and ``seeds`` (how many). Rows of single-seed results files (no
    per-seed lists) count as one seed with a standard deviation of 0."""
    psnrs = method.get('psnr_per_seed') or [method['psnr']]
    ssims = method.get('ssim_per_seed') or [method['ssim']]
    return dict(psnr=method['psnr'], ssim=method['ssim'],
                psnr_std=method.get('psnr_std', 0.0) if len(psnrs) > 1 else 0.0,
                ssim_std=method.get('ssim_std', 0.0) if len(ssims) > 1 else 0.0,
                seeds=len(psnrs))


def _seeds_phrase(res: dict) -> str:
    seeds = res.get('seeds')
    if not seeds:
        n = max(method_stats(m)['seeds'] for m in res['methods'])
        return f'{n} seed' + ('s' if n != 1 else '')
    listed = ', '.join(str(s) for s in seeds)
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({listed})"


def _mean_std(mean: float, std: float, seeds: int, digits: int) -> str:
    """``mean ± std`` (e.g. ``26.31 ± 0.05``); the mean alone for a single seed."""
    if seeds < 2:
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {std:.{digits}f}'


def gain_flag(method: dict, input_psnr: float) -> str:
    """The table's "gain > std" cell: for an unsupervised method (NLCL, CycleGAN) ``yes``
    when its mean PSNR gain over the rainy input exceeds its own standard deviation over seeds,
    else ``no``; ``-`` for the supervised methods and for single-seed results (no
    spread to compare with)."""
    stats = method_stats(method)
    if method['supervised'] or stats['seeds'] < 2:
        return '-'
    return 'yes' if stats['psnr'] - input_psnr > stats['psnr_std'] else 'no'


def share_cell(method: dict, key: str, seeds: int) -> str:
    """A share (``detail_projection``, ``detail_removed``) in %, mean ± std over seeds
    (``-`` for results files without it)."""
    if method.get(key) is None:
        return '-'
    mean = 100 * method[key]
    if seeds < 2:
        return f'{mean:.1f} %'
    return f"{mean:.1f} ± {100 * method.get(f'{key}_std', 0.0):.1f} %"


def per_kind_table(res: dict) -> list:
    """Lines of the table per rain kind (empty for results measured without kinds):
    for each method and kind, the PSNR gain over the rainy input of that kind and the
    share of the streak layer taken away, mean ± std over seeds."""
    kinds = list((res.get('input') or {}).get('per_kind') or {})
    if not kinds or not all(m.get('per_kind') for m in res['methods']):
        return []
    held = set(res.get('held_out_kinds') or ())
    names = [k + (' (held out)' if k in held else '') for k in kinds]
    lines = ['', '**Per rain kind** (PSNR gain over the rainy input of that kind / streaks '
             'taken away, mean ± std over seeds; "held out": a kind no training image has):',
             '', '| Method | ' + ' | '.join(names) + ' |',
             '| --- |' + ' ---: |' * len(kinds),
             '| rainy input (PSNR, Y) | ' + ' | '.join(
                 f"{res['input']['per_kind'][k]['psnr']:.2f} dB" for k in kinds) + ' |']
    for m in res['methods']:
        seeds = method_stats(m)['seeds']
        cells = []
        for k in kinds:
            entry = m['per_kind'][k]
            gain = entry['psnr'] - res['input']['per_kind'][k]['psnr']
            share = 100 * entry['detail_projection']
            if seeds < 2:
                cells.append(f'{gain:+.2f} dB / {share:.0f} %')
            else:
                cells.append(f"{gain:+.2f} ± {entry['psnr_std']:.2f} dB / {share:.0f} ± "
                             f"{100 * entry['detail_projection_std']:.0f} %")
        lines.append(f"| {m['label']} | " + ' | '.join(cells) + ' |')
    return lines


def released_table(released) -> list:
    """Lines of the released-models table (empty when none is released)."""
    if not released:
        return []
    lines = ['', '**Released models** (`tools/ship_model.py`: a run\'s last checkpoint, '
             'released only if it beats the rainy input in PSNR and SSIM; weights in the '
             'repository):', '',
             '| Model | Config | Iterations | Seed | Tested on | PSNR (Y) | SSIM (Y) | vs input '
             '| Weights | Trained on |',
             '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- |']
    for r in released:
        tested = (f"demo data version {r['data_version']}" if r.get('data_version')
                  else f"`{r.get('test_root', '?')}`")
        lines.append(
            f"| {r['name']} | [{osp.basename(r['config'])}]({r['config']}) | "
            f"{r['iterations']} | {r['seed']} | {tested}, {r['images']} images | "
            f"{r['psnr']:.2f} | {r['ssim']:.4f} | "
            f"{r['psnr'] - r['input_psnr']:+.2f} dB | [{osp.basename(r['weights'])}]"
            f"({r['weights']}) | {r['cpu']} |")
    lines += ['', 'Command, log, scalars and config of each: next to its weights '
              '(`model.json`, `train.log`, `scalars.json`, `config.py`). Test: the demo '
              'test split of the data version named, with the metrics of the table above '
              '(one run, so no spread).']
    return lines


def checkpoint_root(res: dict) -> str:
    """The folder the results' runs wrote their checkpoints under
    (``<root>/<method>/seed<k>/iter_<n>.pth``; ``work_dirs/demo_comparison`` when no
    row records a checkpoint)."""
    for m in res['methods']:
        ckpt = m.get('checkpoint')
        if ckpt:
            return osp.dirname(osp.dirname(osp.dirname(ckpt)))
    return 'work_dirs/demo_comparison'


def complexity_size(res: dict) -> int:
    """Side of the square image the results' complexity columns count at (256 when no
    row records it)."""
    sizes = {m['macs_size'] for m in res['methods'] if m.get('macs_size')}
    if len(sizes) > 1:
        raise ValueError(f'methods counted at different sizes: {sorted(sizes)}')
    return sizes.pop() if sizes else 256


def complexity_cells(method: dict, size: int) -> str:
    """``parameters | MACs`` cells (``2.33 M | 8.1 G``); ``-`` where not recorded."""
    params = f"{method['params'] / 1e6:.2f} M" if method.get('params') else '-'
    macs = f"{method['macs'] / 1e9:.1f} G" if method.get('macs') else '-'
    return f'{params} | {macs}'


def training_total(res: dict) -> str:
    """`` Training every row took ...``: the runs' summed training time and, with the
    results' runs at a time, the wall-clock time it makes; empty unless every row has
    its runs' times."""
    totals = [m.get('train_seconds_total') for m in res['methods']]
    if not totals or not all(totals):
        return ''
    hours = sum(totals) / 3600
    jobs = int(res.get('jobs') or 1)
    return (f' Training every row took {hours:.1f} h of run time ({jobs} run'
            f"{'s' if jobs != 1 else ''} at a time: about {hours / jobs:.1f} h).")


def _budget_phrase(res: dict) -> str:
    return f"budget: {res.get('budget', 'equal iterations')}"


def data_version(res: dict) -> str:
    """The demo data version a results file was measured on (``data_version``, or the
    one its description names; ``'?'`` when neither says)."""
    if res.get('data_version') is not None:
        return str(res['data_version'])
    found = re.search(r'demo data version (\d+)', res.get('description', ''))
    return found.group(1) if found else '?'


def readme_table(res: dict, released=()) -> str:
    """The Markdown block that goes between the markers."""
    data = res['data']
    in_psnr, in_ssim = res['input']['psnr'], res['input']['ssim']
    multi = max(method_stats(m)['seeds'] for m in res['methods']) > 1
    size = complexity_size(res)
    spread = ('PSNR and SSIM are the mean ± the sample standard deviation over seeds' if multi
              else 'PSNR and SSIM of that single run (one seed measures no spread)')
    lines = [
        f"Measured by `{res['command'].strip()}` on {res['date']} "
        f"({_hardware(res)}, torch {res['hardware']['torch']}). "
        f"Each method ({_budget_phrase(res)}): {res['iterations']} iterations, "
        f"batch {res['batch_size']}, "
        f"{res['crop_size']}x{res['crop_size']} crops, trained with {_seeds_phrase(res)}; "
        f"{spread}. "
        f"Training data: {data['train_rainy']} rainy + {data['train_clean']} unpaired clean "
        f"crops (the supervised methods instead use the {data['train_pairs_supervised']} "
        f"rainy crops with their clean originals). Test: the {data['test_pairs']} paired "
        f"demo test images; {res['metrics']}. Demo data version {data_version(res)}.",
        '',
        'Differences smaller than the spread (± one standard deviation over seeds) are not '
        'differences.',
        '',
        f'| Method | Config | Supervision | Parameters | MACs at {size}x{size} | PSNR (Y) '
        '| SSIM (Y) | vs input | gain > std | streaks taken away | detail error removed '
        '| Training time |',
        '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |',
        f"| rainy input (no deraining) | - | - | - | - | {in_psnr:.2f} | {in_ssim:.4f} | - | - "
        "| 0 % | 0 % | - |",
    ]
    for m in res['methods']:
        st = method_stats(m)
        seconds = m.get('train_seconds')
        time_cell = f'{seconds / 60:.1f} min' if seconds else '-'
        data_cell = 'paired' if m['supervised'] else 'unpaired'
        lines.append(
            f"| {m['label']} | [{osp.basename(m['config'])}]({m['config']}) | {data_cell} | "
            f"{complexity_cells(m, size)} | "
            f"{_mean_std(st['psnr'], st['psnr_std'], st['seeds'], 2)} | "
            f"{_mean_std(st['ssim'], st['ssim_std'], st['seeds'], 4)} | "
            f"{st['psnr'] - in_psnr:+.2f} dB | {gain_flag(m, in_psnr)} | "
            f"{share_cell(m, 'detail_projection', st['seeds'])} | "
            f"{share_cell(m, 'detail_removed', st['seeds'])} | {time_cell} |")
    lines += ['', 'Supervision: paired (the rainy crops with their clean originals) or '
              'unpaired (rainy and clean crops of different scenes). '
              'vs input: mean PSNR gain over the rainy input. gain > std: for each '
              'unsupervised method, whether that gain is larger than the method\'s own '
              'standard deviation over seeds (`-`: a supervised method, or a single seed). '
              'Streaks taken away: '
              'how far the output moved along the rainy input\'s error in the detail band '
              '(the streaks\' layer; Y, Gaussian σ 3, `tools/error_bands.py`), whatever else '
              'it changed; detail error removed: the share of that error gone from the output, '
              'every change counted (below 0: the output adds detail-band error, e.g. '
              'sharpening halos); both means over the test images. '
              'Parameters and MACs: of the network that derains (NLCL: G_B; CycleGAN: its '
              f'rainy-to-clean generator) on one {size}x{size} image, multiply-accumulates '
              "of its convolutions, linear layers and matrix products (mmengine's "
              '`get_model_complexity_info`, which adds its count of standard normalisation '
              'layers; other element-wise operations not counted; `-`: not recorded in the '
              'results file). '
              'Training time: mean wall-clock time of one run on the CPU named above.'
              + training_total(res),
              '', 'Results file: `results/demo_comparison.json`. Checkpoints are written '
              f'under `{checkpoint_root(res)}/` by the command above (they are not '
              'distributed).']
    lines += per_kind_table(res)
    lines += released_table(released)
    return '\n'.join(lines)


def metafile(res: dict, released=()) -> dict:
    """MMagic's model index: the collections, then one model per method with its mean
    PSNR/SSIM over seeds and their standard deviations, then the released models."""
    models = []
    for m in res['methods']:
        st = method_stats(m)
        metrics = {'PSNR (Y)': round(st['psnr'], 4), 'PSNR (Y) std': round(st['psnr_std'], 4),
                   'SSIM (Y)': round(st['ssim'], 4), 'SSIM (Y) std': round(st['ssim_std'], 4)}
        for key, name in (('detail_projection', 'Streaks taken away'),
                          ('detail_removed', 'Detail-band error removed')):
            if m.get(key) is not None:
                metrics[name] = round(m[key], 4)
                metrics[f'{name} std'] = round(m.get(f'{key}_std', 0.0), 4)
        models.append({
            'Config': m['config'],
            'In Collection': _collection(m),
            'Metadata': {
                'Training Data': 'nlcl_demo (paired)' if m['supervised'] else 'nlcl_demo (unpaired)',
                'Iterations': res['iterations'],
                'Seeds': st['seeds'],
                'Training Resources': _hardware(res),
                **({'Parameters': m['params']} if m.get('params') else {}),
                **({f"MACs ({m['macs_size']}x{m['macs_size']})": m['macs']}
                   if m.get('macs') and m.get('macs_size') else {}),
            },
            'Name': f"{m['name']}_{res['iterations']}iter_nlcl-demo",
            'Results': [{
                'Dataset': 'nlcl_demo',
                'Metrics': metrics,
                'Task': 'Deraining',
            }],
            'Weights': m['checkpoint'],
        })
    for r in released:
        models.append({
            'Config': r['config'],
            'In Collection': 'NLCL-TPAMI',
            'Metadata': {
                'Training Data': 'nlcl_demo (unpaired)',
                'Iterations': r['iterations'],
                'Seeds': 1,
                'Training Resources': r['cpu'],
            },
            'Name': r['name'],
            'Results': [{
                'Dataset': 'nlcl_demo',
                'Metrics': {'PSNR (Y)': round(r['psnr'], 4), 'SSIM (Y)': round(r['ssim'], 4)},
                'Task': 'Deraining',
            }],
            'Weights': r['weights'],
        })
    used = {model['In Collection'] for model in models}
    return {'Collections': [c for c in COLLECTIONS if c['Name'] in used], 'Models': models}


def load_released(pattern: str) -> list:
    """The ``model.json`` files of the released models, sorted by path."""
    out = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            out.append(json.load(f))
    return out


def render(res: dict, readme_text: str, released=()) -> Tuple[str, str]:
    """(new README text, metafile text)."""
    if START not in readme_text or END not in readme_text:
        raise ValueError(f'README lacks the {START} / {END} markers')
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme = f'{head}{START}\n{readme_table(res, released)}\n{END}{tail}'
    meta = ('# Generated by tools/model_zoo.py from results/demo_comparison.json and '
            'model_zoo/*/model.json; do not edit.\n'
            + yaml.safe_dump(metafile(res, released), sort_keys=False, width=100))
    return readme, meta
