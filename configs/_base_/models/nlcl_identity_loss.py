# Option beyond the paper: the identity loss on the clean image, L1(G_B(B_u), B_u)
# (CycleGAN's identity mapping loss). A G_B that recolours, darkens or saturates whatever
# it is given pays for it on the clean photographs. Reuses G_B(B_u), which the location
# loss already computes. Used as ``model = dict(identity_loss={{_base_.identity_loss}})``.
# Weight 5: of 1 and 5, the one whose long demo run (configs/nlcl_demo_long_identity.py,
# seed 2022) scored higher on the training crops against their rain-free twins at its
# last checkpoint (tools/training_diagnostics.py --train-pairs; docs/training.md 4.2).
identity_loss = dict(type='IdentityLoss', loss_weight=5.0)
