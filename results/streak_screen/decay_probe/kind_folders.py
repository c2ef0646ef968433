"""Folders of links to the same_places demo data's training cells, one pair of folders
(rainy, target) per group of rain kinds, for tools that read whole folders.

    python kind_folders.py DATA_ROOT OUT   ->  OUT/drops/{rainy,target}, OUT/streaks/{...}
"""
import json
import os
import os.path as osp
import sys


def main():
    root, out = (osp.abspath(a) for a in sys.argv[1:3])
    for e in json.load(open(osp.join(root, 'manifest.json')))['images']:
        if e['split'] != 'train_rainy':
            continue
        group = 'drops' if e['rain_kind'] == 'drops' else 'streaks'
        name = osp.basename(e['file'])
        for sub, src in (('rainy', e['file']), ('target', e['target'])):
            os.makedirs(osp.join(out, group, sub), exist_ok=True)
            link = osp.join(out, group, sub, name)
            if not osp.lexists(link):
                os.symlink(osp.join(root, src), link)


if __name__ == '__main__':
    main()
