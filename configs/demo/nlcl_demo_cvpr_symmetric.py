# The demo run with the CVPR 2022 / official symmetric layer-contrastive loss and the
# authors' generators, heads, loss weights and discriminator (the options beyond the
# paper off, as in nlcl_demo_options_off.py); configs/nlcl_cvpr_symmetric.py on real data.
_base_ = ['./nlcl_demo_options_off.py']

model = dict(
    layer_loss=dict(
        _delete_=True,
        type='LayerContrastiveLoss',
        tau_bg=0.07,
        tau_rain=0.07,
        weight_bg=None,
        weight_rain=None,
        loss_weight=1.0))
