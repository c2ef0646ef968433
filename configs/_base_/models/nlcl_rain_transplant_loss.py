# Beyond the paper: the rain transplant loss, weight * mean|G_B(B_u + sg(O - B)) - B_u|
# (nlcl_plugin/models/losses/rain_transplant.py): what G_B removes from the rainy crop, laid
# over the unpaired clean crop, must be removed again, and nothing else. One more G_B pass
# per step. Weight 5 of {1, 5}, chosen on the demo's training crops (docs/training.md, 4.4).
# Used as ``model = dict(transplant_loss={{_base_.transplant_loss}})``.
transplant_loss = dict(type='RainTransplantLoss', loss_weight=5.0)
