# Ablation: the demo configuration as recommended before the streak light
# (docs/training.md 4.9): G_B a free residual (no streak light, no veil), the
# discriminator on the grey tone and the grey detail layer, its weights initialised with
# gain 0.02 (what that recommendation trained with).
_base_ = ['../nlcl_demo.py']

model = dict(
    generator=dict(_delete_=True, type='DecompositionGenerator', residual=True,
                   zero_init_output=True),
    discriminator=dict(init_gain=0.02),
    objective=dict(disc_input='gray_tone_detail'))
