# The long demo schedule (configs/nlcl_demo_long.py: 1200 iterations at a constant
# learning rate, the last 200 decaying) with the identity loss on the clean image
# (configs/_base_/models/nlcl_identity_loss.py). Without it, training past about 400
# iterations over-processes (darker, saturated images; docs/training.md 4.2).
#
#   python tools/train.py configs/nlcl_demo_long_identity.py --work-dir work_dirs/nlcl_demo_long_identity
_base_ = ['./nlcl_demo_long.py', './_base_/models/nlcl_identity_loss.py']

model = dict(identity_loss={{_base_.identity_loss}})
