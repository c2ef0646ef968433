"""Copy a training checkpoint taken before the learning-rate decay, with the decay of the
generator's and/or the discriminator's rate switched off (its LinearLR ends at factor 1).

    python held_rates.py SRC.pth DST.pth --hold {none,generator,discriminator,both}

`tools/train.py CFG --resume DST.pth` then continues the run from the same weights and
Adam moments, under the schedule named; 'none' is the original schedule (the control).
"""
import argparse

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('src')
    p.add_argument('dst')
    p.add_argument('--hold', choices=('none', 'generator', 'discriminator', 'both'),
                   required=True)
    args = p.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
    held = {'none': (), 'generator': ('generator',), 'discriminator': ('discriminator',),
            'both': ('generator', 'discriminator')}[args.hold]
    for name in held:
        linear = [s for s in ckpt['param_schedulers'][name] if 'end_factor' in s]
        if len(linear) != 1 or linear[0]['last_step'] != 0:
            raise SystemExit(f'{args.src}: expected one LinearLR of {name} not yet begun')
        linear[0]['end_factor'] = 1.0
    torch.save(ckpt, args.dst)
    print(args.dst, 'held:', held or 'nothing')


if __name__ == '__main__':
    main()
