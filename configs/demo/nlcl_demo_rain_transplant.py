# The recommended demo configuration (configs/nlcl_demo.py) plus the rain transplant loss
# (configs/_base_/models/nlcl_rain_transplant_loss.py).
_base_ = ['../nlcl_demo.py', '../_base_/models/nlcl_rain_transplant_loss.py']

model = dict(transplant_loss={{_base_.transplant_loss}})
