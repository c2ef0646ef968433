# Reproduces the released code's training, defects included (nlcl-method §6):
#   D1 the location heads are never trained,
#   D2 the background heads are never trained and the rain heads get two Adam steps,
#   D3 the layer loss uses discriminator taps [input, L0, L3, L7].
_base_ = ['./nlcl_cvpr_symmetric.py']

model = dict(
    objective=dict(
        legacy_disc_taps=True,
        legacy_freeze_loc_heads=True,
        legacy_adv_head_bug=True))

optim_wrapper = dict(
    # the released code's second optimiser over the rain heads (defect D2)
    rain_heads_legacy=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)),
        modules=['objective.rain_sampler']))
