# The supervised reference (supervised_demo.py) trained ten times longer: how far the same
# G_B gets towards removing the demo's streaks when it is shown the rain-free targets.
_base_ = ['./supervised_demo.py']

max_iters = 3000
decay_iters = 500
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters - decay_iters),
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 11, by_epoch=False,
         begin=max_iters - decay_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=500)
default_hooks = dict(checkpoint=dict(interval=500, max_keep_ckpts=-1))
