# Ablation: the recommended demo run (configs/nlcl_demo.py) evaluated with the raw
# generators instead of the moving averages of their weights.
_base_ = ['../nlcl_demo.py']

model = dict(is_use_ema=False)
custom_hooks = [
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=50),
    dict(type='IntrinsicDimensionHook', interval=50),
]
