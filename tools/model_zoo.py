#!/usr/bin/env python
"""Write the README's model-zoo table and ``configs/metafile.yml`` from measured results.

    python tools/model_zoo.py [--results results/demo_comparison.json] [--readme README.md]
        [--metafile configs/metafile.yml] [--released 'model_zoo/*/model.json'] [--check]

The results file is written by ``tools/compare_demo.py`` and each released model's
``model.json`` by ``tools/ship_model.py``; nothing in the tables or the metafile is typed
by hand. The README table goes between the lines
``<!-- model-zoo:start -->`` and ``<!-- model-zoo:end -->``. ``--check`` only compares
(exit status 1 when either file is out of date), for tests and CI.

The metafile follows MMagic's model-index schema (``Collections`` with the papers, then
``Models`` with ``Config``, ``In Collection``, ``Metadata``, ``Name``, ``Results`` and
``Weights``; no empty values).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from nlcl_plugin.evaluation.model_zoo import load_released, render  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--results', default='results/demo_comparison.json')
    p.add_argument('--readme', default='README.md')
    p.add_argument('--metafile', default='configs/metafile.yml')
    p.add_argument('--released', default='model_zoo/*/model.json',
                   help="released models' model.json files (glob)")
    p.add_argument('--check', action='store_true', help='only report whether files are current')
    args = p.parse_args(argv)
    if not osp.isfile(args.results):
        print(f'{args.results} not found: run python tools/compare_demo.py first',
              file=sys.stderr)
        return 2
    with open(args.results) as f:
        res = json.load(f)
    with open(args.readme) as f:
        old_readme = f.read()
    old_meta = open(args.metafile).read() if osp.isfile(args.metafile) else ''
    readme, meta = render(res, old_readme, load_released(args.released))
    if args.check:
        stale = [path for path, old, new in ((args.readme, old_readme, readme),
                                             (args.metafile, old_meta, meta)) if old != new]
        for path in stale:
            print(f'{path} is out of date: run python tools/model_zoo.py', file=sys.stderr)
        return 1 if stale else 0
    with open(args.readme, 'w') as f:
        f.write(readme)
    with open(args.metafile, 'w') as f:
        f.write(meta)
    print(f'wrote {args.readme} (model-zoo table) and {args.metafile}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
