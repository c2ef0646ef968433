# The long demo schedule (configs/nlcl_demo_long.py: 1200 iterations at a constant
# learning rate, the last 200 decaying) with the rain transplant loss
# (configs/_base_/models/nlcl_rain_transplant_loss.py), which at 300 iterations stops the
# sharpening that grows with training (docs/training.md 4.4).
#
#   python tools/train.py configs/nlcl_demo_long_transplant.py \
#       --work-dir work_dirs/nlcl_demo_long_transplant
_base_ = ['./nlcl_demo_long.py', './_base_/models/nlcl_rain_transplant_loss.py']

model = dict(transplant_loss={{_base_.transplant_loss}})
