# Supervised reference: NLCL's background generator G_B trained with an L1 loss on the
# demo's *paired* rainy/clean training crops (train_rainy/ + train_target/), with the same
# crop size, optimiser, schedule and test split as configs/nlcl_demo.py. It sees the
# ground truth NLCL never sees: the upper bound an unsupervised method is measured against.
_base_ = ['../nlcl_demo.py']

model = dict(
    _delete_=True,
    type='BaseEditModel',
    # the same G_B as configs/nlcl_demo.py (residual, zero-initialised output, removing a
    # learned share of the streak light and a smooth veil)
    generator={{_base_.model.generator}},
    pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
    data_preprocessor=dict(
        type='DataPreprocessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))

train_pipeline = [
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    dict(type='SetValues', dictionary=dict(scale=1)),
    dict(type='PairedRandomCrop', gt_patch_size={{_base_.crop_size}}),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='DemoPairedRainDataset',
        data_root={{_base_.data_root}},
        demo_root={{_base_.data_root}},
        data_prefix=dict(img='train_rainy', gt='train_target'),
        pipeline=train_pipeline))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)))

custom_hooks = [dict(type='BasicVisualizationHook', interval=1)]
