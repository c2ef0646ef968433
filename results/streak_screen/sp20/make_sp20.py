"""Clean and rainy cells of the same places from 20 photographs (a measurement script).

The demo's same-places folders (the 48 rainy training cells, their twins and the 22 clean
cells of astronaut, motorcycle_left and china) joined by ``more_photos.py``'s cells of 17
more photographs on the two colours of each photograph's checkerboard: rainy where row +
column is even, the rain-free cell where it is odd. No clean cell shares a pixel with a
rainy one, and none is of the test split's photographs. Writes symbolic links:
OUT/train_rainy/, OUT/train_target/ (the rainy cells' twins, same names) and OUT/train_clean/.

    make_sp20.py --same-places data/nlcl_demo_same_places --more DIR_OF_more_photos.py --out OUT
"""
import argparse, os, os.path as osp


def cell_of(name):
    """(row, col) of a ``more_<photo>_<rr><cc>.png`` cell."""
    stem = osp.splitext(name)[0]
    return int(stem[-4:-2]), int(stem[-2:])


def link(src, dst):
    if not osp.lexists(dst):
        os.symlink(osp.abspath(src), dst)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--same-places', default='data/nlcl_demo_same_places')
    p.add_argument('--more', required=True, help='more_photos.py --out folder')
    p.add_argument('--out', required=True)
    a = p.parse_args()
    for d in ('train_rainy', 'train_target', 'train_clean'):
        os.makedirs(osp.join(a.out, d), exist_ok=True)
        for f in sorted(os.listdir(osp.join(a.same_places, d))):
            link(osp.join(a.same_places, d, f), osp.join(a.out, d, f))
    counts, photos = {'rainy': 0, 'clean': 0}, set()
    for f in sorted(os.listdir(osp.join(a.more, 'more_rainy'))):
        r, c = cell_of(f)
        photos.add(f[:-9])
        if (r + c) % 2 == 0:
            link(osp.join(a.more, 'more_rainy', f), osp.join(a.out, 'train_rainy', f))
            link(osp.join(a.more, 'more_target', f), osp.join(a.out, 'train_target', f))
            counts['rainy'] += 1
        else:
            link(osp.join(a.more, 'more_target', f), osp.join(a.out, 'train_clean', 'clean_' + f))
            counts['clean'] += 1
    print(f"{len(photos)} photographs: {counts['rainy']} rainy cells, {counts['clean']} clean cells; "
          + ', '.join(f'{d} {len(os.listdir(osp.join(a.out, d)))}'
                      for d in ('train_rainy', 'train_target', 'train_clean')))


if __name__ == '__main__':
    main()
