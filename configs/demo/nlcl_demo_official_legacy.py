# The demo run with the released code's defects D1-D3 reproduced
# (as configs/nlcl_official_legacy.py on real data).
_base_ = ['./nlcl_demo_cvpr_symmetric.py']

model = dict(
    objective=dict(
        legacy_disc_taps=True,
        legacy_freeze_loc_heads=True,
        legacy_adv_head_bug=True))

optim_wrapper = dict(
    rain_heads_legacy=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)),
        modules=['objective.rain_sampler']))
