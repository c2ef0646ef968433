# MMagic's CycleGAN, the classic unsupervised baseline, trained on the same *unpaired*
# rainy and clean demo crops as NLCL (configs/nlcl_demo.py: its dataset, crop, schedule,
# test split and evaluator), translating rainy -> clean; a change of the demo data reaches
# every row of the model zoo.
#
# The model is MMagic's CycleGAN (LSGAN, cycle loss 10, identity loss 0.5, image buffers
# of 50, as in mmagic's configs/cyclegan/), as `RainCycleGAN` (nlcl_plugin/mmagic/zoo.py),
# which only adds the derained image to its test outputs where MMagic's PSNR/SSIM read
# them. Its inputs: MMagic's `CopyValues` puts the rainy and clean crops under
# `img_rainy` / `img_clean`, the keys CycleGAN reads its domains from. At test the rainy
# image fills both (the clean domain's input is unused; the clean target is never shown
# to the model).
#
# Sized for a CPU: ResnetGenerator width 32 with 4 residual blocks (mmagic's: 64 and 9),
# PatchDiscriminator width 32 with 3 convolutions (mmagic's: 64, 3), instance norm as
# there. Adam (lr 2e-4, betas 0.5 / 0.999) for the generators and the discriminators, as
# in mmagic's configs and NLCL's, on the demo's schedule.
#
#   python tools/train.py configs/zoo/cyclegan_demo.py --work-dir work_dirs/cyclegan_demo
#   python tools/test.py configs/zoo/cyclegan_demo.py work_dirs/cyclegan_demo/iter_300.pth
_base_ = ['../nlcl_demo.py']

domains = ['rainy', 'clean']
model = dict(
    _delete_=True,
    type='RainCycleGAN',
    rainy_domain='rainy',
    clean_domain='clean',
    data_preprocessor=dict(type='DataPreprocessor'),
    generator=dict(
        type='ResnetGenerator',
        in_channels=3,
        out_channels=3,
        base_channels=32,
        norm_cfg=dict(type='IN'),
        use_dropout=False,
        num_blocks=4,
        padding_mode='reflect',
        init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(
        type='PatchDiscriminator',
        in_channels=3,
        base_channels=32,
        num_conv=3,
        norm_cfg=dict(type='IN'),
        init_cfg=dict(type='normal', gain=0.02)),
    loss_config=dict(cycle_loss_weight=10., id_loss_weight=0.5),
    default_domain='clean',
    reachable_domains=domains,
    related_domains=domains)

# the domains' images and their channel order (the data preprocessor converts and the
# outputs are converted back by it, as for MMagic's editing models)
_domain_keys = ['img_rainy', 'img_clean']
_domain_meta = dict(img_rainy_channel_order='rgb', img_rainy_color_type='color',
                    img_clean_channel_order='rgb', img_clean_color_type='color')
_pack = dict(type='PackInputs', keys=_domain_keys, meta_keys=list(_domain_meta))

train_pipeline = [
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size={{_base_.crop_size}},
         pad_mode='reflect'),
    dict(type='CopyValues', src_keys=['img', 'gt'], dst_keys=_domain_keys),
    dict(type='SetValues', dictionary=_domain_meta),
    _pack,
]
test_pipeline = [
    dict(type='LoadRGBImage', key='img'),
    dict(type='LoadRGBImage', key='gt'),
    dict(type='CopyValues', src_keys=['img', 'img'], dst_keys=_domain_keys),
    dict(type='SetValues', dictionary=_domain_meta),
    _pack,
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    generators=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))),
    discriminators=dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999))))

custom_hooks = [dict(type='BasicVisualizationHook', interval=1)]
