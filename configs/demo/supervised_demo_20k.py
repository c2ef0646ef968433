# The supervised reference (supervised_demo.py) trained for 20000 iterations, about 67 times
# the demo budget: whether the same G_B, shown the rain-free targets, removes the test
# photographs' streaks given far more training (docs/training.md, section 4.4).
_base_ = ['./supervised_demo_long.py']

max_iters = 20000
decay_iters = 2000
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters - decay_iters),
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 11, by_epoch=False,
         begin=max_iters - decay_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=2500)
default_hooks = dict(checkpoint=dict(interval=2500, max_keep_ckpts=-1))
