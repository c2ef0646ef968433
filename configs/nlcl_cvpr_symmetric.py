# NLCL with the CVPR 2022 (official code) symmetric layer-contrastive loss:
# one temperature for both groups, every anchor weighted equally.
_base_ = ['./nlcl_real_rain.py', './_base_/models/nlcl_cvpr_layer_loss.py']

model = dict(
    layer_loss={{_base_.cvpr_layer_loss}},
    # the authors' generators, heads and loss weights (nlcl_real_rain.py changes them)
    generator=dict(_delete_=True, type='DecompositionGenerator', residual=False,
                   zero_init_output=False),
    rain_generator=dict(zero_init_output=False),
    loc_loss=dict(loss_weight=1.0),
    objective=dict(layer_heads='learned', disc_input='image'),
    discriminator=dict(norm='instance', init_gain=0.02),
    train_cfg=dict(disc_init_steps=0),
    is_use_ema=False)
custom_hooks = [
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=1000),
    dict(type='IntrinsicDimensionHook', interval=1000),
]
