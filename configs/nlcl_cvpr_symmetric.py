# NLCL with the CVPR 2022 (official code) symmetric layer-contrastive loss:
# one temperature for both groups, every anchor weighted equally.
_base_ = ['./nlcl_real_rain.py']

model = dict(
    layer_loss=dict(
        _delete_=True,
        type='LayerContrastiveLoss',
        tau_bg=0.07,
        tau_rain=0.07,
        weight_bg=None,
        weight_rain=None,
        loss_weight=1.0))
