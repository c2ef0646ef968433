# Option beyond the paper: the identity loss on the clean image, L1(G_B(B_u), B_u)
# (CycleGAN's identity mapping loss). A G_B that recolours, darkens or saturates whatever
# it is given pays for it on the clean photographs. Reuses G_B(B_u), which the location
# loss already computes. Used as ``model = dict(identity_loss={{_base_.identity_loss}})``.
identity_loss = dict(type='IdentityLoss', loss_weight=1.0)
