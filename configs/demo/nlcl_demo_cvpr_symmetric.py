# The demo run with the CVPR 2022 / official symmetric layer-contrastive loss and the
# authors' generators, heads, loss weights and discriminator (the options beyond the
# paper off, as in nlcl_demo_options_off.py); configs/nlcl_cvpr_symmetric.py on real data.
_base_ = ['./nlcl_demo_options_off.py', '../_base_/models/nlcl_cvpr_layer_loss.py']

model = dict(layer_loss={{_base_.cvpr_layer_loss}})
