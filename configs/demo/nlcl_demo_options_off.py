# Ablation: the demo run (configs/nlcl_demo.py, asymmetric layer loss) with every option
# beyond the paper off: no moving average of the generators (nlcl_demo_no_ema.py), plain
# generators with PyTorch's initialisation, learned layer-loss heads, location loss at
# weight 1, the paper's discriminator on the image.
_base_ = ['./nlcl_demo_no_ema.py']

model = dict(
    generator=dict(_delete_=True, type='DecompositionGenerator', residual=False,
                   zero_init_output=False),
    rain_generator=dict(zero_init_output=False),
    loc_loss=dict(loss_weight=1.0),
    objective=dict(layer_heads='learned', disc_input='image'),
    discriminator=dict(norm='instance', init_gain=0.02),
    train_cfg=dict(disc_init_steps=0))
