# MMagic's NAFNet (its registered `NAFNet` generator in MMagic's `BaseEditModel`, the model
# of mmagic's configs/nafnet/), trained supervised on the demo's *paired* rainy/clean
# training crops. Data, crop, schedule, test split and evaluator are the supervised
# reference's (configs/demo/supervised_demo.py, itself on configs/nlcl_demo.py), so a
# change of the demo data reaches every row of the model zoo.
#
# Sized for a CPU: width 16 (MMagic's GoPro / SIDD models: 64), one NAF block per encoder
# and decoder level and in the middle (GoPro: 1 1 1 28 / 1 / 1 1 1 1). The optimiser and
# loss are MMagic's NAFNet configs' (AdamW, lr 1e-3, weight decay 1e-3, betas 0.9 / 0.9;
# PSNRLoss) on the demo's schedule (constant, then a linear decay over the last 50
# iterations). Input and output in [0, 1] (mean 0, std 255, as there); NAFNet pads the
# sides to a multiple of 16 itself.
#
#   python tools/train.py configs/zoo/nafnet_demo.py --work-dir work_dirs/nafnet_demo
#   python tools/test.py configs/zoo/nafnet_demo.py work_dirs/nafnet_demo/iter_300.pth
_base_ = ['../demo/supervised_demo.py']

model = dict(
    _delete_=True,
    type='BaseEditModel',
    generator=dict(
        type='NAFNet',
        img_channels=3,
        mid_channels=16,
        enc_blk_nums=[1, 1, 1, 1],
        middle_blk_num=1,
        dec_blk_nums=[1, 1, 1, 1]),
    pixel_loss=dict(type='PSNRLoss'),
    data_preprocessor=dict(type='DataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-3, betas=(0.9, 0.9)))
