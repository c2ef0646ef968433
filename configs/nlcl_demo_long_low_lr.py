# The demo schedule (configs/nlcl_demo.py: constant learning rate for 250 iterations,
# then a linear decay by iteration 300 to about 1/10), continued at that low learning
# rate to iteration 1200 (after the last scheduler ends the rate stays where it is;
# mmengine's schedulers are chainable, so a ConstantLR after the decay would multiply
# the decayed rate again). The full learning rate past about 400 iterations
# over-processes (docs/training.md 4.2); this asks whether the decayed one keeps
# improving instead.
#
#   python tools/train.py configs/nlcl_demo_long_low_lr.py --work-dir work_dirs/nlcl_demo_long_low_lr
_base_ = ['./nlcl_demo_long.py']

param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=250),
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 11, by_epoch=False,
         begin=250, end=300),
]
