# Ablation: the demo run (configs/nlcl_demo.py, asymmetric layer loss) with every option
# beyond the paper off: plain generators with PyTorch's initialisation, learned
# layer-loss heads, location loss at weight 1, no moving average of the generators.
_base_ = ['../nlcl_demo.py']

model = dict(
    generator=dict(residual=False, zero_init_output=False),
    rain_generator=dict(zero_init_output=False),
    loc_loss=dict(loss_weight=1.0),
    objective=dict(layer_heads='learned', disc_input='image'),
    discriminator=dict(norm='instance', init_gain=0.02),
    train_cfg=dict(disc_init_steps=0),
    is_use_ema=False)
custom_hooks = [
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=50),
    dict(type='IntrinsicDimensionHook', interval=50),
]
