# The supervised reference for configs/nlcl_demo_same_places.py: the same G_B (a learned
# share of the streak light, started at 0.2, and a smooth veil) trained with an L1 loss on
# the same-places layout's *paired* training cells (train_rainy/ + train_target/), with the
# same crop size, optimiser, 1200-iteration schedule and test split. It sees the ground
# truth NLCL never sees: the bound the same-places NLCL is measured against.
#
#   python tools/train.py configs/demo/supervised_demo_same_places.py --work-dir work_dirs/supervised_demo_same_places
_base_ = ['./supervised_demo.py']

data_root = 'data/nlcl_demo_same_places'
demo_layout = 'same_places'

model = dict(generator=dict(thin_light_init=0.2))

train_dataloader = dict(
    dataset=dict(data_root=data_root, demo_root=data_root, demo_layout=demo_layout))
val_dataloader = dict(dataset=dict(data_root=data_root + '/test', demo_layout=demo_layout))
test_dataloader = dict(dataset=dict(data_root=data_root + '/test', demo_layout=demo_layout))

max_iters = 1200
decay_iters = 200
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters - decay_iters),
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 11, by_epoch=False,
         begin=max_iters - decay_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=300)
default_hooks = dict(checkpoint=dict(interval=300, max_keep_ckpts=-1))
