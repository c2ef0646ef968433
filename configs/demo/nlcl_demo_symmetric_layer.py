# Ablation: the recommended demo configuration with the CVPR 2022 symmetric layer loss
# (one temperature 0.07 for both groups, every anchor weighted equally) instead of the
# TPAMI asymmetric one; everything else as configs/nlcl_demo.py.
_base_ = ['../nlcl_demo.py', '../_base_/models/nlcl_cvpr_layer_loss.py']

model = dict(layer_loss={{_base_.cvpr_layer_loss}})
