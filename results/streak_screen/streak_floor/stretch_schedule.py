"""Copy a checkpoint of a 1200-iteration run (ConstantLR to 1000, LinearLR 1000-1200),
taken at or before 1000, with both learning-rate schedules stretched to the long one
(ConstantLR to END - DECAY, LinearLR from END - DECAY to END).

    python stretch_schedule.py SRC.pth DST.pth --end 2400 --decay 200

`tools/train.py CFG --resume DST.pth --cfg-options train_cfg.max_iters=2400
param_scheduler.0.end=2200 param_scheduler.1.begin=2200 param_scheduler.1.end=2400`
then continues from the same weights, Adam moments and schedulers as the 2400-iteration
run would have at that step (a run of the long schedule is the same run as the short one
up to 1000); the random draws after it are new.
"""
import argparse

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('src')
    p.add_argument('dst')
    p.add_argument('--end', type=int, required=True)
    p.add_argument('--decay', type=int, required=True)
    args = p.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
    for name, schedulers in ckpt['param_schedulers'].items():
        const = [s for s in schedulers if 'end_factor' not in s]
        linear = [s for s in schedulers if 'end_factor' in s]
        if len(const) != 1 or len(linear) != 1 or linear[0]['last_step'] > 0:
            raise SystemExit(f'{args.src}: expected a ConstantLR and a LinearLR of {name} '
                             'whose decay has not begun')
        const, linear = const[0], linear[0]
        # as the long run's schedulers stand at this step (mmengine's _ParamScheduler.step
        # counts last_step only within [begin, end))
        const['end'] = args.end - args.decay
        const['total_iters'] = const['end'] - const['begin'] - 1
        const['last_step'] = const['_global_step']
        linear['begin'], linear['end'] = args.end - args.decay, args.end
        linear['total_iters'] = linear['end'] - linear['begin'] - 1
        linear['last_step'] = -1
    torch.save(ckpt, args.dst)
    print(args.dst, 'schedules to', args.end, 'decay', args.decay)


if __name__ == '__main__':
    main()
