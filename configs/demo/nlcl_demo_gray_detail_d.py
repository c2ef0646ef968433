# Ablation: the recommended demo configuration with a discriminator that sees only the
# grey detail layer (mean - GaussianBlur_3): streaks and texture, but not tone or haze.
_base_ = ['../nlcl_demo.py']

model = dict(objective=dict(disc_input='gray_detail'))
