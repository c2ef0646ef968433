# The demo run (configs/nlcl_demo.py) with the CVPR 2022 / official symmetric
# layer-contrastive loss (as configs/nlcl_cvpr_symmetric.py on real data).
_base_ = ['../nlcl_demo.py']

model = dict(
    layer_loss=dict(
        _delete_=True,
        type='LayerContrastiveLoss',
        tau_bg=0.07,
        tau_rain=0.07,
        weight_bg=None,
        weight_rain=None,
        loss_weight=1.0),
    # the authors' generators, heads and loss weights, as in nlcl_cvpr_symmetric.py
    generator=dict(residual=False, zero_init_output=False),
    rain_generator=dict(zero_init_output=False),
    loc_loss=dict(loss_weight=1.0),
    objective=dict(layer_heads='learned', disc_input='image'),
    discriminator=dict(norm='instance', init_gain=0.02),
    train_cfg=dict(disc_init_steps=0))
