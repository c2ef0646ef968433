#!/usr/bin/env python
"""The model zoo on the authors' real rainy photographs: a figure and NIQE per model.

    python tools/zoo_real_photos.py [--results results/demo_comparison.json]
        [--methods nlcl_recommended restormer nafnet cyclegan] [--official-dir DIR]
        [--figure docs/figures/zoo_real_photos.jpg] [--json results/zoo_real_photos.json]

Each method's first-seed checkpoint in the results file (``tools/compare_demo.py``) is
run on the rainy photographs of ``--official-dir`` (default: ``$NLCL_OFFICIAL_DIR``,
then ``../shared/official-nlcl``; ``rainy/``), the way ``tools/demo_report.py`` runs it.
The figure shows, one photograph per row, the rainy photograph, the authors' released
NLCL output (``derained/``) and each method's output; the table gives each one's NIQE
(MMagic's, no reference, on Y; lower is better), mean over the photographs. Without the
authors' files there is nothing to show: the tool says so and exits with status 0.
Checkpoints are loaded weights-only; ``--trust-checkpoint`` unpickles them in full.
"""
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from nlcl_plugin.evaluation.real_photos import photos_figure, run_models  # noqa: E402

DEFAULT_METHODS = ['nlcl_recommended', 'restormer', 'nafnet', 'cyclegan']


def official_root(official_dir=None):
    """The first of ``official_dir``, ``$NLCL_OFFICIAL_DIR`` and ``../shared/official-nlcl``
    that holds ``rainy/``, or None."""
    for root in (official_dir, os.environ.get('NLCL_OFFICIAL_DIR'),
                 osp.join(REPO, '..', 'shared', 'official-nlcl')):
        if root and osp.isdir(osp.join(root, 'rainy')):
            return osp.normpath(root)
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--results', default='results/demo_comparison.json')
    p.add_argument('--methods', nargs='+', default=DEFAULT_METHODS,
                   help='methods of the results file (default: %(default)s; those absent '
                   'from it are left out with a note)')
    p.add_argument('--official-dir', help="folder with the authors' rainy/ and derained/")
    p.add_argument('--figure', default='docs/figures/zoo_real_photos.jpg')
    p.add_argument('--json', default='results/zoo_real_photos.json')
    p.add_argument('--panel-width', type=int, default=384)
    from nlcl_plugin.checkpoint_safety import add_trust_argument, trusting
    add_trust_argument(p)
    args = p.parse_args(argv)
    root = official_root(args.official_dir)
    if root is None:
        print("the authors' real photographs (rainy/) are not here: nothing to show "
              '(--official-dir or $NLCL_OFFICIAL_DIR)')
        return 0
    if not osp.isfile(args.results):
        print(f'error: {args.results} not found: run python tools/compare_demo.py first',
              file=sys.stderr)
        return 2
    with open(args.results) as f:
        methods = {m['name']: m for m in json.load(f)['methods']}
    with trusting(args.trust_checkpoint):
        return _main(args, root, methods)


def _main(args, root, methods):
    from nlcl_plugin.evaluation.report import derainer_for
    from nlcl_plugin.mmagic.runner_utils import load_config
    from nlcl_plugin.models.checkpoint import CheckpointError
    models = []
    for name in args.methods:
        if name not in methods:
            print(f'note: {name} is not in {args.results}: left out')
            continue
        m = methods[name]
        ckpt = osp.join(REPO, m['checkpoint'])
        try:
            models.append((name, derainer_for(load_config(osp.join(REPO, m['config'])),
                                              ckpt)))
        except (CheckpointError, FileNotFoundError) as err:
            print(f'error: {name}: {err}', file=sys.stderr)
            return 2
    released = osp.join(root, 'derained')
    rows, pictures = run_models(models, osp.join(root, 'rainy'),
                                released if osp.isdir(released) else None)
    figure = photos_figure(pictures, [r['label'] for r in rows], args.figure,
                           args.panel_width)
    print(f'{len(rows[0]["names"])} real rainy photographs under {osp.join(root, "rainy")}')
    print('| image set | NIQE (lower is better) | method |')
    print('| --- | ---: | --- |')
    for row in rows:
        row['method'] = methods[row['label']]['label'] if row['label'] in methods else '-'
        print(f"| {row['label']} | {row['niqe']:.3f} | {row['method']} |")
    os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
        json.dump(dict(photos=osp.join(root, 'rainy'), results=args.results,
                       methods=[n for n in args.methods if n in methods], rows=rows), f,
                  indent=2)
    print(f'figure: {figure}\njson: {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
