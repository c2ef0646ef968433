crop_size = 128
custom_hooks = [
    dict(
        interp_cfg=dict(momentum=0.01),
        interval=1,
        module_keys=(
            'generator_ema',
            'rain_generator_ema',
        ),
        type='ExponentialMovingAverageHook'),
    dict(interval=1, type='BasicVisualizationHook'),
    dict(interval=200, type='DecompositionVisualizationHook'),
    dict(interval=200, type='IntrinsicDimensionHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'nlcl_plugin.mmagic',
    ])
data_root = 'data/nlcl_demo_same_places'
decay_iters = 200
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=100,
        max_keep_ckpts=-1,
        rule='greater',
        save_best='PSNR',
        save_last=True,
        type='AtomicCheckpointHook'),
    logger=dict(interval=20, log_metric_by_epoch=False, type='LoggerHook'),
    nonfinite_loss=dict(
        max_consecutive=10, mode='skip', type='NonFiniteLossHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'))
default_scope = 'mmagic'
demo_layout = 'same_places'
derain_no_reference_pipeline = [
    dict(key='img', type='LoadRGBImage'),
    dict(type='PackInputs'),
]
derain_test_loader = dict(
    batch_size=1,
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
derain_test_pipeline = [
    dict(key='img', type='LoadRGBImage'),
    dict(key='gt', type='LoadRGBImage'),
    dict(type='PackInputs'),
]
ema_hook = dict(
    interp_cfg=dict(momentum=0.01),
    interval=1,
    module_keys=(
        'generator_ema',
        'rain_generator_ema',
    ),
    type='ExponentialMovingAverageHook')
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
identity_loss = dict(loss_weight=5.0, type='IdentityLoss')
launcher = 'none'
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, type='LogProcessor', window_size=50)
max_iters = 1200
model = dict(
    consistency_loss=dict(loss_weight=1.0, type='ConsistencyLoss'),
    data_preprocessor=dict(
        mean=[
            127.5,
            127.5,
            127.5,
        ],
        std=[
            127.5,
            127.5,
            127.5,
        ],
        type='DataPreprocessor'),
    discriminator=dict(
        init_gain=1.0, norm='none', type='NLCLPatchDiscriminator'),
    gan_loss=dict(
        fake_label_val=0.0,
        gan_type='lsgan',
        loss_weight=1.0,
        real_label_val=1.0,
        type='GANLoss'),
    generator=dict(
        removes_light=True,
        residual=True,
        streak_length=21,
        thin_light_init=0.2,
        thin_light_size=7,
        type='DecompositionGenerator',
        veil_scale=16,
        zero_init_output=True),
    identity_loss=dict(loss_weight=5.0, type='IdentityLoss'),
    is_use_ema=True,
    layer_loss=dict(
        loss_weight=1.0,
        tau_bg=0.1,
        tau_rain=0.05,
        type='LayerContrastiveLoss',
        weight_bg=0.5,
        weight_rain=0.5),
    loc_loss=dict(loss_weight=0.0, tau=0.07, type='LocationContrastiveLoss'),
    objective=dict(
        disc_input='gray_detail',
        disc_layers=(
            0,
            3,
            7,
            11,
        ),
        layer_heads='frozen',
        legacy_adv_head_bug=False,
        legacy_disc_taps=False,
        legacy_freeze_loc_heads=False,
        loc_identity=True,
        loc_layers=(
            0,
            2,
            4,
            8,
            12,
        ),
        loc_neg_sampling='nonlocal_similar',
        num_bg_patches=8,
        num_loc_patches=256,
        num_rain_patches=128,
        patch_size=16,
        search_size=40),
    rain_generator=dict(
        residual=False, type='DecompositionGenerator', zero_init_output=True),
    sparsity_loss=dict(
        loss_weight=0.1, target='rainy_minus_bg', type='SparsityLoss'),
    train_cfg=dict(disc_init_steps=100, disc_steps=1),
    type='NLCL')
model_wrapper_cfg = dict(
    broadcast_buffers=False,
    find_unused_parameters=False,
    type='MMSeparateDistributedDataParallel')
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    discriminator=dict(
        modules=[
            'discriminator',
        ],
        optimizer=dict(betas=(
            0.5,
            0.999,
        ), lr=0.0002, type='Adam'),
        type='OptimWrapper'),
    generator=dict(
        modules=[
            'generator',
            'rain_generator',
            'objective',
        ],
        optimizer=dict(betas=(
            0.5,
            0.999,
        ), lr=0.0002, type='Adam'),
        type='OptimWrapper'))
param_scheduler = [
    dict(begin=0, by_epoch=False, end=1000, factor=1.0, type='ConstantLR'),
    dict(
        begin=1000,
        by_epoch=False,
        end=1200,
        end_factor=0.09090909090909091,
        start_factor=1.0,
        type='LinearLR'),
]
rain100h_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/Rain100H',
        metainfo=dict(dataset_type='Rain100H', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
rain100h_evaluator = [
    dict(convert_to='Y', prefix='Rain100H', type='PSNR'),
    dict(convert_to='Y', prefix='Rain100H', type='SSIM'),
]
rain100l_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/Rain100L',
        metainfo=dict(dataset_type='Rain100L', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
rain100l_evaluator = [
    dict(convert_to='Y', prefix='Rain100L', type='PSNR'),
    dict(convert_to='Y', prefix='Rain100L', type='SSIM'),
]
randomness = dict(deterministic=False, seed=2022)
real_rain_test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(img='input'),
        data_root='data/real_rain/test_real',
        metainfo=dict(dataset_type='RealRain', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
real_rain_test_evaluator = [
    dict(convert_to='y', prefix='RealRain', type='NoReferenceNIQE'),
]
resume = False
spa_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/SPA-Data',
        metainfo=dict(dataset_type='SPA-Data', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
spa_evaluator = [
    dict(convert_to='Y', prefix='SPA-Data', type='PSNR'),
    dict(convert_to='Y', prefix='SPA-Data', type='SSIM'),
]
test100_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/Test100',
        metainfo=dict(dataset_type='Test100', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test100_evaluator = [
    dict(convert_to='Y', prefix='Test100', type='PSNR'),
    dict(convert_to='Y', prefix='Test100', type='SSIM'),
]
test1200_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/Test1200',
        metainfo=dict(dataset_type='Test1200', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test1200_evaluator = [
    dict(convert_to='Y', prefix='Test1200', type='PSNR'),
    dict(convert_to='Y', prefix='Test1200', type='SSIM'),
]
test2800_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/Test2800',
        metainfo=dict(dataset_type='Test2800', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='BasicImageDataset'),
    drop_last=False,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test2800_evaluator = [
    dict(convert_to='Y', prefix='Test2800', type='PSNR'),
    dict(convert_to='Y', prefix='Test2800', type='SSIM'),
]
test_cfg = dict(skip_missing=False, type='AvailableSetsTestLoop')
test_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_root='data/nlcl_demo_same_places/test',
        demo_layout='same_places',
        metainfo=dict(dataset_type='nlcl_demo', task_name='deraining'),
        type='DemoPairedRainDataset'),
    drop_last=False,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    metrics=[
        dict(convert_to='Y', type='PSNR'),
        dict(convert_to='Y', type='SSIM'),
    ],
    type='Evaluator')
test_pipeline = [
    dict(key='img', type='LoadRGBImage'),
    dict(key='gt', type='LoadRGBImage'),
    dict(type='PackInputs'),
]
train_cfg = dict(max_iters=1200, type='IterBasedTrainLoop', val_interval=100)
train_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(clean='train_clean', rainy='train_rainy'),
        data_root='data/nlcl_demo_same_places',
        demo_layout='same_places',
        pipeline=[
            dict(key='img', on_error='skip', type='LoadRGBImage'),
            dict(key='gt', on_error='skip', type='LoadRGBImage'),
            dict(
                crop_size=128,
                keys=[
                    'img',
                    'gt',
                ],
                pad_mode='reflect',
                type='RandomCropOrPad'),
            dict(type='PackInputs'),
        ],
        type='DemoUnpairedRainDataset'),
    num_workers=2,
    persistent_workers=True,
    sampler=dict(shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(key='img', on_error='skip', type='LoadRGBImage'),
    dict(key='gt', on_error='skip', type='LoadRGBImage'),
    dict(
        crop_size=128,
        keys=[
            'img',
            'gt',
        ],
        pad_mode='reflect',
        type='RandomCropOrPad'),
    dict(type='PackInputs'),
]
val_cfg = dict(
    allow_empty=True, skip_missing=False, type='AvailableSetsValLoop')
val_dataloader = dict(
    batch_size=1,
    dataset=dict(
        data_prefix=dict(gt='target', img='input'),
        data_root='data/nlcl_demo_same_places/test',
        demo_layout='same_places',
        metainfo=dict(dataset_type='nlcl_demo', task_name='deraining'),
        pipeline=[
            dict(key='img', type='LoadRGBImage'),
            dict(key='gt', type='LoadRGBImage'),
            dict(type='PackInputs'),
        ],
        type='DemoPairedRainDataset'),
    drop_last=False,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    metrics=[
        dict(convert_to='Y', type='PSNR'),
        dict(convert_to='Y', type='SSIM'),
    ],
    type='Evaluator')
val_interval = 5000
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(
    bgr2rgb=True,
    fn_key='img_path',
    img_keys=[
        'input',
        'pred_img',
        'pred_rain',
        'gt_img',
    ],
    type='MultiSetConcatVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend'),
    ])
work_dir = 'work_dirs/release_same_places_s2022'
