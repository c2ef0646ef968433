"""How far the rain direction band_blind.py finds lies from the rendered one (a measurement script).

    angle_check.py [ROOT] [SPLIT]    # default: data/nlcl_demo_same_places train_rainy

Reads the demo data's manifest.json (each rainy image's rain layers and their angle), finds
each image's direction with ``angle_of`` over two direction sets (all of STREAK_ANGLES,
7.5 degrees apart; within 45 degrees of vertical, 2.5 degrees apart) and prints, per set,
the median error and how many images are more than 5 and 10 degrees off, for the streak
kinds (drops have no direction; their median is printed apart).
"""
import json, os.path as osp, sys
import numpy as np
HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from band_blind import load, angle_of, angle_set

root = sys.argv[1] if len(sys.argv) > 1 else 'data/nlcl_demo_same_places'
split = sys.argv[2] if len(sys.argv) > 2 else 'train_rainy'
manifest = json.load(open(osp.join(root, 'manifest.json')))
by_name = {osp.basename(i['file']): i for i in manifest['images']
           if 'rain' in i and i['file'].startswith(split.split('/')[0])}
files, images = load(osp.join(root, split))
for label, angles in (('STREAK_ANGLES (7.5 degrees apart)', angle_set()),
                      ('within 45 of vertical, 2.5 apart', angle_set(45, 2.5))):
    streak, drops = [], []
    for f, x in zip(files, images):
        entry = by_name[osp.basename(f)]
        true = float(np.mean([layer['angle_deg'] for layer in entry['rain']['layers']]))
        d = abs(angle_of(x, angles) - true)
        d = min(d, 180 - d)
        (drops if entry['rain_kind'] == 'drops' else streak).append(d)
    s = np.array(streak)
    print(f'{label}: streak kinds median {np.median(s):.1f} deg, >5: {(s > 5).sum()}, '
          f'>10: {(s > 10).sum()} of {len(s)}; drops median {np.median(drops):.1f} deg')
