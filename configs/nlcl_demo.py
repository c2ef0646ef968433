# NLCL on the built-in demo data, sized for a CPU: synthetic rain rendered on photographs
# shipped with scikit-image, generated on first use under data/nlcl_demo (nothing is
# downloaded). Unpaired training split + paired test split.
#
#   python tools/train.py configs/nlcl_demo.py --work-dir work_dirs/nlcl_demo
#   python tools/test.py configs/nlcl_demo.py work_dirs/nlcl_demo/iter_300.pth
_base_ = ['./nlcl_real_rain.py']

data_root = 'data/nlcl_demo'
crop_size = 128
max_iters = 300
decay_iters = 50

train_pipeline = [
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size=crop_size, pad_mode='reflect'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    num_workers=2,
    persistent_workers=True,
    dataset=dict(
        type='DemoUnpairedRainDataset',
        data_root=data_root,
        data_prefix=dict(rainy='train_rainy', clean='train_clean'),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type='DemoPairedRainDataset',
        metainfo=dict(dataset_type='nlcl_demo', task_name='deraining'),
        data_root=data_root + '/test'))
# The demo is tested on its own paired split (generated when the dataset is built, so
# the loops must not skip it for being absent beforehand).
val_cfg = dict(skip_missing=False)
test_cfg = dict(skip_missing=False)
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='DemoPairedRainDataset',
        metainfo=dict(dataset_type='nlcl_demo', task_name='deraining'),
        data_root=data_root + '/test'))
test_evaluator = dict(
    _delete_=True,
    type='Evaluator',
    metrics=[
        dict(type='PSNR', convert_to='Y'),
        dict(type='SSIM', convert_to='Y'),
    ])

optim_wrapper = dict(generator=dict(optimizer=dict(lr=2e-4)))
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters - decay_iters),
    dict(type='LinearLR', start_factor=1.0, end_factor=1.0 / 11, by_epoch=False,
         begin=max_iters - decay_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=100)

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=100, max_keep_ckpts=3, save_best='PSNR', rule='greater'))
custom_hooks = [
    {{_base_.ema_hook}},
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=50),
    dict(type='IntrinsicDimensionHook', interval=50),
]
