# Standard single-image deraining test sets, evaluated like MMagic's deraining benchmark
# (mmagic::_base_/datasets/deraining_test_config.py, used by the Restormer config):
# PSNR/SSIM on the Y channel, one metric prefix per set ('Rain100L/PSNR', ...), plus
# SPA-Data (real rain, paired) and a folder of real rainy photos without ground truth,
# scored with the no-reference NIQE (lower is better).
#
# Layout (each paired set: rainy images in input/, clean ones with the same file names
# in target/):
#   data/Rain100H/{input,target}/       data/Rain100L/{input,target}/
#   data/Test100/{input,target}/        data/Test1200/{input,target}/
#   data/Test2800/{input,target}/       data/SPA-Data/{input,target}/
#   data/real_rain/test_real/input/     real rainy photos, no ground truth
# The first five are the Restormer test folders (Datasets/test/<Set>/{input,target}):
# copy or link them under data/.
#
# SPA-Data: the official test set (real_test_1000) ships the 1000 rainy images and their
# clean counterparts in two folders (rain/ and norain/, called gt/ in some copies): link
# the rainy folder as data/SPA-Data/input and the clean one as data/SPA-Data/target.
# Pairs are matched by file name; if the clean files carry a suffix (e.g. 000gt.png for
# 000.png), add filename_tmpl=dict(img='{}', gt='{}gt') to spa_dataloader's dataset.
#
# AvailableSetsTestLoop evaluates the sets that are present and skips the others with
# one warning each (naming the set and the folder it looked for); it fails only when
# none is present. `tools/test.py` returns/prints the metrics of the evaluated sets.
#
# Images are read as 8-bit RGB with safe conversions (LoadRGBImage: gray, RGBA, palette,
# 16-bit scaled, not truncated). An unreadable file stops the evaluation with its path:
# metrics are only reported over complete sets. (type='CheckedImageDataset' instead of
# BasicImageDataset also checks every file when the set is built, before any inference.)
derain_test_pipeline = [
    dict(type='LoadRGBImage', key='img'),
    dict(type='LoadRGBImage', key='gt'),
    dict(type='PackInputs'),
]
# no ground truth: only the rainy image is loaded
derain_no_reference_pipeline = [
    dict(type='LoadRGBImage', key='img'),
    dict(type='PackInputs'),
]
# shared dataloader settings (2 workers: image decoding overlaps with the model and the
# metrics, which run in the main process)
derain_test_loader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))

rain100h_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='Rain100H', task_name='deraining'),
        data_root='data/Rain100H',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
rain100h_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='Rain100H'),
    dict(type='SSIM', convert_to='Y', prefix='Rain100H'),
]

rain100l_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='Rain100L', task_name='deraining'),
        data_root='data/Rain100L',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
rain100l_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='Rain100L'),
    dict(type='SSIM', convert_to='Y', prefix='Rain100L'),
]

test100_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='Test100', task_name='deraining'),
        data_root='data/Test100',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
test100_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='Test100'),
    dict(type='SSIM', convert_to='Y', prefix='Test100'),
]

test1200_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='Test1200', task_name='deraining'),
        data_root='data/Test1200',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
test1200_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='Test1200'),
    dict(type='SSIM', convert_to='Y', prefix='Test1200'),
]

test2800_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='Test2800', task_name='deraining'),
        data_root='data/Test2800',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
test2800_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='Test2800'),
    dict(type='SSIM', convert_to='Y', prefix='Test2800'),
]

spa_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='SPA-Data', task_name='deraining'),
        data_root='data/SPA-Data',
        data_prefix=dict(img='input', gt='target'),
        pipeline=derain_test_pipeline))
spa_evaluator = [
    dict(type='PSNR', convert_to='Y', prefix='SPA-Data'),
    dict(type='SSIM', convert_to='Y', prefix='SPA-Data'),
]

# real rain without ground truth: NIQE of the derained image (Y channel)
real_rain_test_dataloader = dict(
    derain_test_loader,
    dataset=dict(
        type='BasicImageDataset',
        metainfo=dict(dataset_type='RealRain', task_name='deraining'),
        data_root='data/real_rain/test_real',
        data_prefix=dict(img='input'),
        pipeline=derain_no_reference_pipeline))
real_rain_test_evaluator = [
    dict(type='NoReferenceNIQE', convert_to='y', prefix='RealRain'),
]

test_cfg = dict(type='AvailableSetsTestLoop')
test_dataloader = [
    rain100h_dataloader,
    rain100l_dataloader,
    test100_dataloader,
    test1200_dataloader,
    test2800_dataloader,
    spa_dataloader,
    real_rain_test_dataloader,
]
test_evaluator = [
    rain100h_evaluator,
    rain100l_evaluator,
    test100_evaluator,
    test1200_evaluator,
    test2800_evaluator,
    spa_evaluator,
    real_rain_test_evaluator,
]
