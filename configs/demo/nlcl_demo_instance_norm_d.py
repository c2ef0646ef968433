# Ablation: the recommended demo configuration with the authors' discriminator
# (InstanceNorm, weights initialised with gain 0.02) and no discriminator warm-up.
_base_ = ['../nlcl_demo.py']

model = dict(
    discriminator=dict(norm='instance', init_gain=0.02),
    train_cfg=dict(disc_init_steps=0))
