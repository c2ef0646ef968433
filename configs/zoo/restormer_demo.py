# MMagic's Restormer (its registered `Restormer` generator in MMagic's `BaseEditModel`, the
# model of mmagic's configs/restormer/restormer_official_rain13k.py), trained supervised
# on the demo's *paired* rainy/clean training crops. Data, crop, schedule, test split and
# evaluator are the supervised reference's (configs/demo/supervised_demo.py, itself on
# configs/nlcl_demo.py), so a change of the demo data reaches every row of the model zoo.
#
# Sized for a CPU: width 16 (the rain13k model: 48), one transformer block per level and
# one refinement block (4 6 6 8 and 4), heads 1 2 4 8 as there. The optimiser is the
# Restormer paper's (AdamW, lr 3e-4, weight decay 1e-4, betas 0.9 / 0.999) on the demo's
# schedule (constant, then a linear decay over the last 50 iterations); L1 loss as there.
# Input and output in [0, 1] (MMagic's data preprocessor for Restormer, mean 0, std 255);
# sides are padded to a multiple of 8 (three downsamplings) and the padding removed.
#
#   python tools/train.py configs/zoo/restormer_demo.py --work-dir work_dirs/restormer_demo
#   python tools/test.py configs/zoo/restormer_demo.py work_dirs/restormer_demo/iter_300.pth
_base_ = ['../demo/supervised_demo.py']

model = dict(
    _delete_=True,
    type='BaseEditModel',
    generator=dict(
        type='Restormer',
        inp_channels=3,
        out_channels=3,
        dim=16,
        num_blocks=[1, 1, 1, 1],
        num_refinement_blocks=1,
        heads=[1, 2, 4, 8],
        ffn_expansion_factor=2.66,
        bias=False,
        LayerNorm_type='WithBias',
        dual_pixel_task=False),
    pixel_loss=dict(type='L1Loss', loss_weight=1.0, reduction='mean'),
    data_preprocessor=dict(
        type='DataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        pad_size_divisor=8))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-4, betas=(0.9, 0.999)))
