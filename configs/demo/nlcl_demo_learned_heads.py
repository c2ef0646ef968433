# Ablation: the demo run (configs/nlcl_demo.py) with the paper's learned layer-loss heads
# instead of frozen ones (everything else as recommended).
_base_ = ['../nlcl_demo.py']

model = dict(objective=dict(layer_heads='learned'))
