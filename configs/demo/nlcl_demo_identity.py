# Option beyond the paper: the recommended demo run (configs/nlcl_demo.py) with the
# identity loss on the clean image (configs/_base_/models/nlcl_identity_loss.py).
_base_ = ['../nlcl_demo.py', '../_base_/models/nlcl_identity_loss.py']

model = dict(identity_loss={{_base_.identity_loss}})
