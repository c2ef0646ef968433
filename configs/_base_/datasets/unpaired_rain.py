# Unpaired training data: a folder of rainy photos and a folder of unrelated clean photos.
# ``gt_img`` in training is the *unpaired* clean image (for the discriminator).
# Paired evaluation uses MMagic's BasicImageDataset layout ``{input,target}``.
data_root = 'data/real_rain'
crop_size = 256

train_pipeline = [
    # 8-bit RGB with safe conversions (gray, RGBA, palette, 16-bit); an unreadable file
    # is skipped with a warning naming it, and another item is drawn
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    # independent random crops (the two images are unrelated); smaller images are
    # reflect-padded up to the crop, never stretched
    dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size=crop_size, pad_mode='reflect'),
    dict(type='PackInputs'),
]
# evaluation sees every image: an unreadable file stops with its path
test_pipeline = [
    dict(type='LoadRGBImage', key='img'),
    dict(type='LoadRGBImage', key='gt'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UnpairedRainDataset',
        data_root=data_root,
        data_prefix=dict(rainy='train_rainy', clean='train_clean'),
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        # MMagic's BasicImageDataset, files checked when built
        type='CheckedImageDataset',
        metainfo=dict(dataset_type='real_rain_val', task_name='deraining'),
        data_root=data_root + '/val',
        data_prefix=dict(img='input', gt='target'),
        pipeline=test_pipeline))
# MMagic's metrics run under MMagic's Evaluator and Multi{Val,Test}Loop.
val_evaluator = dict(
    type='Evaluator',
    metrics=[
        dict(type='PSNR', convert_to='Y'),
        dict(type='SSIM', convert_to='Y'),
    ])
