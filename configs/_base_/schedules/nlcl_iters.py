# The paper's optimiser: Adam 2e-4, betas (0.5, 0.999) for every network; constant LR,
# then a linear decay to 1/11 over the last 1/21 of training (200 + 10 epochs officially).
max_iters = 210000
decay_iters = 10000
val_interval = 5000

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    # both generators and every projection head in one optimiser
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)),
        modules=['generator', 'rain_generator', 'objective']),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)),
        modules=['discriminator']),
)

param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters - decay_iters),
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=1.0 / 11,
        by_epoch=False,
        begin=max_iters - decay_iters,
        end=max_iters),
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
# the paired validation folder is optional: without it training runs unvalidated
val_cfg = dict(type='AvailableSetsValLoop', allow_empty=True)
