# Ablation: the demo run (configs/nlcl_demo.py) without the layer contrastive loss.
_base_ = ['../nlcl_demo.py']

model = dict(layer_loss=dict(loss_weight=0.0))
