# Ablation: the recommended demo configuration with the CVPR 2022 symmetric layer loss
# (one temperature 0.07 for both groups, every anchor weighted equally) instead of the
# TPAMI asymmetric one; everything else as configs/nlcl_demo.py.
_base_ = ['../nlcl_demo.py']

model = dict(
    layer_loss=dict(
        _delete_=True,
        type='LayerContrastiveLoss',
        tau_bg=0.07,
        tau_rain=0.07,
        weight_bg=None,
        weight_rain=None,
        loss_weight=1.0))
