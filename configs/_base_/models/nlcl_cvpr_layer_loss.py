# The CVPR 2022 (and released code's) symmetric layer contrastive loss: one temperature
# for both groups, every anchor weighted equally. Used as
# ``model = dict(layer_loss={{_base_.cvpr_layer_loss}})`` by the symmetric configs.
cvpr_layer_loss = dict(
    type='LayerContrastiveLoss',
    tau_bg=0.07,
    tau_rain=0.07,
    weight_bg=None,
    weight_rain=None,
    loss_weight=1.0)
